"""The console process itself: refuses to start without its secrets, reports services that do
not answer as 503, and serves its health endpoints on ENTRASYNC_HEALTH_PORT too."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from console_helpers import eventually
from entrasync_console.main import build_app
from entrasync_console.settings import ConsoleSettings
from entrasync_devtools.infra import LocalInfra, find_nats_server, free_port
from entrasync_devtools.stack import ServiceStack

SECRET = "ENTRASYNC_CONSOLE_SESSION_SECRET"


def console_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
    env.update(values)
    return env


def test_the_console_refuses_to_start_without_an_admin_account() -> None:
    command = [str(Path(sys.executable).parent / "entrasync-console")]
    env = console_env(ENTRASYNC_CONSOLE_SESSION_SECRET="s" * 40)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no admin account: set ENTRASYNC_CONSOLE_ADMINS" in done.stderr
    assert "s" * 40 not in done.stderr  # setting values are never echoed


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"ENTRASYNC_CONSOLE_ADMINS": '{"a": "h"}'}, "Field required"),
        ({"ENTRASYNC_CONSOLE_ADMINS": "not json", SECRET: "x" * 40}, "not JSON"),
        ({"ENTRASYNC_CONSOLE_ADMINS": "{}", SECRET: "x" * 40}, "holds no entry"),
        ({"ENTRASYNC_CONSOLE_ADMINS": '{"a": "h"}', SECRET: "short"}, "at least 32 characters"),
    ],
)
def test_unusable_secrets_are_refused_with_a_reason(
    settings: dict[str, str], complaint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("ENTRASYNC_")]:
        monkeypatch.delenv(name)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=complaint):
        build_app(ConsoleSettings())


@pytest.fixture(scope="module")
def lonely_console(
    infra: LocalInfra, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceStack, int]]:
    """A console whose prefix no service serves."""
    health_port = free_port()
    with ServiceStack(
        infra.nats_url,
        infra.mongodb_uri,
        tmp_path_factory.mktemp("lonely"),
        prefix="lonely" + uuid.uuid4().hex[:6],
        services=("console",),
        service_env={"console": {"ENTRASYNC_HEALTH_PORT": str(health_port)}},
    ) as stack:
        yield stack, health_port


def test_a_service_that_does_not_answer_is_a_503_saying_so(
    lonely_console: tuple[ServiceStack, int],
) -> None:
    stack, _ = lonely_console
    assert stack.console is not None
    headers = {"authorization": f"Bearer {stack.console.api_token}"}
    with httpx.Client(base_url=stack.console.url, headers=headers, timeout=30) as api:
        down = api.get("/api/v1/tenants")
        assert down.status_code == 503
        error = down.json()
        assert error["code"] == "unavailable"
        assert "config service does not answer 'tenant.list'" in error["message"]
        health = api.get("/api/v1/services").json()
        assert [(h["service"], h["ok"]) for h in health] == [
            ("config", False),
            ("scheduler", False),
            ("syncer", False),
            ("history", False),
            ("receiver", False),
        ]
        page = api.get("/integrations", headers={"accept": "text/html"})
        assert page.status_code in (303, 503)


def test_health_is_served_on_the_health_port_too(lonely_console: tuple[ServiceStack, int]) -> None:
    stack, health_port = lonely_console
    assert stack.console is not None
    for base in (stack.console.url, f"http://127.0.0.1:{health_port}"):
        assert httpx.get(f"{base}/livez").json() == {"status": "alive"}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"nats": True}


def _private_nats(port: int, store: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [str(find_nats_server()), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    eventually(lambda: _listening(port), "the private nats-server", within=15)
    return server


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def test_a_nats_restart_is_one_warning_per_attempt_and_one_line_when_back(
    infra: LocalInfra, tmp_path: Path
) -> None:
    port = free_port()
    server = _private_nats(port, tmp_path / "js")
    try:
        with ServiceStack(
            f"nats://127.0.0.1:{port}",
            infra.mongodb_uri,
            tmp_path / "stack",
            prefix="recon" + uuid.uuid4().hex[:6],
            services=("console",),
        ) as stack:
            log = tmp_path / "stack" / "console.log"
            server.terminate()
            server.wait(10)
            eventually(lambda: "attempt 3 failed" in log.read_text(), "3 attempts", within=30)
            server = _private_nats(port, tmp_path / "js")
            eventually(lambda: "connection back" in log.read_text(), "reconnect", within=30)
            assert stack.console is not None
            assert httpx.get(f"{stack.console.url}/readyz").status_code == 200
            text = log.read_text()
    finally:
        server.terminate()
        server.wait(10)
    assert "Traceback" not in text and " ERROR " not in text, text
    lines = text.splitlines()
    attempts = [line for line in lines if "reconnect attempt" in line]
    assert len(attempts) >= 3 and all("WARNING" in line for line in attempts)
    assert len([line for line in lines if "connection back" in line]) == 1
