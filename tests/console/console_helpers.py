"""Plain helpers for the console's tests: the stack's settings, polling, and a stand-in syncer."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
from entrasync_devtools.keys import new_encryption_key
from entrasync_devtools.stack import SimulatorCloud
from entrasync_shared.messages import SyncFinished, SyncStarted, TypeResult
from entrasync_shared.subjects import OBJECT_TYPES, Names
from entrasync_sim.launcher import SimulatorProcess

T = TypeVar("T")
CLOUD = "simlab"
SEEDED_RUNS = 40


def stack_environment(sim: SimulatorProcess, workdir: Path) -> tuple[dict[str, str], str]:
    """Settings every service of a test stack gets, and the stack's subject prefix."""
    cloud = SimulatorCloud(CLOUD, sim.authority_host, sim.graph_url, sim.ca_file)
    env = {
        "ENTRASYNC_CLOUDS": cloud.as_setting(),
        "ENTRASYNC_CONFIG_ENCRYPTION_KEY": new_encryption_key(),
        "ENTRASYNC_CONFIG_DB": f"console_config_{workdir.name}",
        "ENTRASYNC_HISTORY_DB": f"console_history_{workdir.name}",
        "ENTRASYNC_SCHEDULER_JITTER_SECONDS": "0",
        "ENTRASYNC_CONFIG_TEST_TIMEOUT_SECONDS": "15",
    }
    prefix = "con" + workdir.name.replace("_", "").replace("-", "")[-8:]
    return env, prefix


@dataclass(frozen=True)
class Session:
    """A logged-in browser's cookies and the session's CSRF token."""

    cookies: dict[str, str]
    csrf: str
    set_cookie: str

    def headers(self, csrf: bool = True) -> dict[str, str]:
        # httpx keeps `Secure` cookies away from http:// URLs, so the test sends them itself.
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {"cookie": cookie, **({"x-csrf-token": self.csrf} if csrf else {})}


def set_cookies(response: httpx.Response) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items() if morsel.value}


def hidden_field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def login_form(http: httpx.Client) -> tuple[dict[str, str], str]:
    """The login page's cookie and CSRF token."""
    page = http.get("/login")
    assert page.status_code == 200
    return set_cookies(page), hidden_field(page.text, "csrf_token")


def post_login(
    http: httpx.Client, user: str, password: str, form: tuple[dict[str, str], str] | None = None
) -> httpx.Response:
    cookies, csrf = form or login_form(http)
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = {"username": user, "password": password, "csrf_token": csrf, "next": "/integrations"}
    return http.post("/login", data=body, headers={"cookie": header})


def log_in(base_url: str, user: str, password: str) -> Session:
    with httpx.Client(base_url=base_url, follow_redirects=False) as http:
        done = post_login(http, user, password)
        assert done.status_code == 303, done.text
        cookies = set_cookies(done)
        page = http.get(
            "/integrations", headers={"cookie": f"entrasync_session={cookies['entrasync_session']}"}
        )
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert csrf, page.text[:500]
        return Session(
            {"entrasync_session": cookies["entrasync_session"]},
            csrf.group(1),
            ";".join(done.headers.get_list("set-cookie")),
        )


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


def eventually(probe: Callable[[], T | None], what: str, within: float = 60.0) -> T:
    """Poll `probe` until it returns something truthy, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        time.sleep(0.2)


def wait_for_first_sync(api: httpx.Client, tenant_id: str, within: float = 90.0) -> dict[str, Any]:
    def recorded() -> dict[str, Any] | None:
        status = api.get(f"/api/v1/tenants/{tenant_id}/status").json()
        done = status["last_sync"] and not status["running"]
        return status if done else None

    return eventually(recorded, f"the first sync of tenant {tenant_id}", within)


async def _publish_runs(nats_url: str, names: Names, tenant_id: str, runs: int) -> list[str]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    # Recent runs: history hides rows past its retention period.
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=runs + 1)
    run_ids = []
    try:
        for n in range(runs):
            run_id = uuid.uuid4().hex
            started = base + timedelta(hours=n)
            common: dict[str, Any] = {
                "run_id": run_id,
                "tenant_id": tenant_id,
                "mode": "delta",
                "reason": "schedule",
            }
            messages: list[tuple[str, SyncStarted | SyncFinished]] = [
                ("started", SyncStarted(**common, object_types=OBJECT_TYPES, at=started)),
                (
                    "finished",
                    SyncFinished(
                        **common,
                        started_at=started,
                        finished_at=started + timedelta(seconds=30),
                        results=tuple(
                            TypeResult(
                                object_type=t,
                                mode="delta",
                                reason="schedule",
                                status="Failed" if n % 10 == 9 and t == "device" else "Succeeded",
                                error="throttled by Graph"
                                if n % 10 == 9 and t == "device"
                                else None,
                                total=n + 1,
                            )
                            for t in OBJECT_TYPES
                        ),
                    ),
                ),
            ]
            for kind, message in messages:
                await js.publish(
                    names.run_event(tenant_id, kind),  # type: ignore[arg-type]
                    message.model_dump_json().encode(),
                    stream=names.pipeline_stream,
                    headers={"Nats-Msg-Id": f"{run_id}:{kind}"},
                )
            run_ids.append(run_id)
    finally:
        await nc.close()
    return run_ids


def seed_history(nats_url: str, names: Names, tenant_id: str, runs: int) -> list[str]:
    """Publish `runs` finished runs of the tenant as a syncer would (one row per object type).

    Hourly, ending an hour ago; every tenth run's devices Failed ("throttled by Graph").
    """
    return asyncio.run(_publish_runs(nats_url, names, tenant_id, runs))
