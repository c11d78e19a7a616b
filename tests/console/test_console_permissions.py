"""The console's REST API and login sessions work end to end while the console runs as the
least-privileged `console` NATS user, without a single permission violation by that user. (The
other services run as their own users too, except history as admin: its users' rights are its own
tests' business.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from console_helpers import CLOUD, log_in, stack_environment, unique, wait_for_first_sync
from entrasync_devtools.infra import LocalInfra, nats_violations
from entrasync_devtools.stack import ServiceStack
from entrasync_shared.natsutil import (
    ensure_cursor_bucket,
    ensure_notify_replay_bucket,
    ensure_session_bucket,
    ensure_streams,
    ensure_subscription_bucket,
)
from entrasync_shared.subjects import Names
from entrasync_sim.launcher import SimulatorProcess

NAMES = Names("perm" + uuid.uuid4().hex[:6])
SERVICES = ("config", "scheduler", "syncer", "history", "receiver", "console")


async def declare(admin_url: str) -> None:
    admin = await nats.connect(admin_url)
    try:
        await ensure_streams(admin.jetstream(), NAMES)
        await ensure_cursor_bucket(admin.jetstream(), NAMES)
        await ensure_session_bucket(admin.jetstream(), NAMES)
        await ensure_subscription_bucket(admin.jetstream(), NAMES)
        await ensure_notify_replay_bucket(admin.jetstream(), NAMES)
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def secure_stack(
    infra: LocalInfra, console_sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceStack, Path]]:
    workdir = tmp_path_factory.mktemp("secure-console")
    with LocalInfra(mongo=False, use_env=False, secure=NAMES, workdir=workdir / "nats") as nats_:
        asyncio.run(declare(nats_.user_url("admin")))
        env, _ = stack_environment(console_sim, workdir)
        per_service = {s: {"ENTRASYNC_NATS_URL": nats_.user_url(s)} for s in SERVICES}
        per_service["history"] = {"ENTRASYNC_NATS_URL": nats_.user_url("admin")}
        with ServiceStack(
            nats_.user_url("console"),
            infra.mongodb_uri,
            workdir,
            env,
            prefix=NAMES.prefix,
            service_env=per_service,
        ) as stack:
            yield stack, workdir / "nats" / "nats-server.log"


def test_every_api_flow_works_as_the_console_user(
    secure_stack: tuple[ServiceStack, Path], console_sim: SimulatorProcess
) -> None:
    stack, server_log = secure_stack
    assert stack.console is not None
    console = stack.console
    session = log_in(console.url, console.admin_user, console.admin_password)  # KV: put, get
    with httpx.Client(base_url=console.url) as browser:
        assert browser.get("/api/v1/me", headers=session.headers(csrf=False)).status_code == 200
        logout = {"csrf_token": session.csrf}
        browser.post("/logout", data=logout, headers=session.headers(csrf=False))  # KV: delete
        assert browser.get("/api/v1/me", headers=session.headers(csrf=False)).status_code == 401
    simulated = console_sim.tenants[0]
    headers = {"authorization": f"Bearer {stack.console.api_token}"}
    with httpx.Client(base_url=stack.console.url, headers=headers, timeout=60) as api:
        profile = api.post(
            "/api/v1/credential-profiles",
            json={
                "name": unique("perm"),
                "client_id": simulated["client_id"],
                "client_secret": simulated["client_secret"],
            },
        ).json()
        body = {"tenant": simulated["domain"], "cloud": CLOUD, "profile_id": profile["id"]}
        assert api.post("/api/v1/tenants/test-connection", json=body).json()["ok"] is True
        tenant = api.post("/api/v1/tenants", json=body).json()
        wait_for_first_sync(api, tenant["id"])
        path = f"/api/v1/tenants/{tenant['id']}"
        reads = ("", "/history", "/history.csv", "/objects?type=user", "/status")
        # The role changes come from the events stream, read with the console's own rights.
        for read in (*reads, "/privileged", "/privileged/changes"):
            assert api.get(path + read).status_code == 200, read
        assert api.post(f"{path}/test-connection").json()["ok"] is True
        assert api.post(f"{path}/sync").status_code == 202
        assert all(h["ok"] for h in api.get("/api/v1/services").json())
        assert api.get("/api/v1/tenants").json()[0]["last_sync"] is not None
    violations = nats_violations(server_log.read_text())
    assert [v for v in violations if v.user == "console"] == []
