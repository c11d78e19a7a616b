"""Console fixtures: the whole system, used the way an admin's browser or a script uses it.

Real: nats-server with JetStream and mongod (session `infra`), the Graph/Entra simulator as its
own HTTPS process, and config, scheduler, syncer, history and the console each as a separate
process started from its console script (`entrasync_devtools.stack.ServiceStack`), configured
only through environment variables. Tests speak HTTP to the console (REST API and pages) and run
`entrasync-ctl` as a subprocess. One stand-in: the paging tests need ~120 Sync History rows, so
`console_helpers.seed_history` publishes 40 runs' start/finish events on the pipeline exactly as
a syncer would (40 real runs would take minutes); history turns them into rows as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from console_helpers import (
    CLOUD,
    PROXY,
    SEEDED_RUNS,
    eventually,
    seed_history,
    stack_environment,
    unique,
    wait_for_first_sync,
)
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ConsoleAccess, ServiceStack
from entrasync_sim.launcher import SimulatorProcess


@pytest.fixture(scope="session")
def console_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(users=30, groups=4, devices=6, page_size=50, seed=3) as sim:
        yield sim


@pytest.fixture(scope="session")
def console_stack(
    infra: LocalInfra, console_sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    workdir = tmp_path_factory.mktemp("console-stack")
    env, prefix = stack_environment(console_sim, workdir)
    throttle = {
        "ENTRASYNC_CONSOLE_LOGIN_MAX_FAILURES": "3",
        "ENTRASYNC_CONSOLE_LOGIN_DELAY_SECONDS": "2",
        "ENTRASYNC_CONSOLE_LOGIN_MAX_DELAY_SECONDS": "8",
        "ENTRASYNC_CONSOLE_LOGIN_WINDOW_SECONDS": "4",
        "ENTRASYNC_CONSOLE_TRUSTED_PROXIES": PROXY,
    }
    with ServiceStack(
        infra.nats_url,
        infra.mongodb_uri,
        workdir,
        env,
        prefix=prefix,
        service_env={"console": throttle},
    ) as running:
        yield running


@pytest.fixture(scope="session")
def access(console_stack: ServiceStack) -> ConsoleAccess:
    assert console_stack.console is not None
    return console_stack.console


@pytest.fixture
def api(access: ConsoleAccess) -> Iterator[httpx.Client]:
    """A script's client: the API token, no cookies."""
    headers = {"authorization": f"Bearer {access.api_token}"}
    with httpx.Client(base_url=access.url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture
def anonymous(access: ConsoleAccess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=access.url, timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="session")
def sim_profile(access: ConsoleAccess, console_sim: SimulatorProcess) -> dict[str, Any]:
    """A credential profile holding the simulated tenant's real app credentials."""
    simulated = console_sim.tenants[0]
    body = {
        "name": unique("simulator app"),
        "client_id": simulated["client_id"],
        "client_secret": simulated["client_secret"],
    }
    with httpx.Client(base_url=access.url, timeout=30) as http:
        created = http.post(
            "/api/v1/credential-profiles",
            json=body,
            headers={"authorization": f"Bearer {access.api_token}"},
        )
    assert created.status_code == 201, created.text
    return dict(created.json())


@pytest.fixture(scope="session")
def synced_tenant(
    access: ConsoleAccess, console_sim: SimulatorProcess, sim_profile: dict[str, Any]
) -> dict[str, Any]:
    """The simulated tenant, registered through the API and synced once for real."""
    headers = {"authorization": f"Bearer {access.api_token}"}
    with httpx.Client(base_url=access.url, headers=headers, timeout=60) as http:
        body = {
            "tenant": console_sim.tenants[0]["domain"],
            "cloud": CLOUD,
            "profile_id": sim_profile["id"],
            "interval_seconds": 3600,
        }
        created = http.post("/api/v1/tenants", json=body)
        assert created.status_code == 201, created.text
        tenant = dict(created.json())
        wait_for_first_sync(http, tenant["id"])
        return tenant


@pytest.fixture(scope="session")
def seeded_tenant(
    access: ConsoleAccess, console_stack: ServiceStack, sim_profile: dict[str, Any]
) -> dict[str, Any]:
    """A disabled tenant (never scheduled) with 40 runs, i.e. 120 Sync History rows."""
    headers = {"authorization": f"Bearer {access.api_token}"}
    with httpx.Client(base_url=access.url, headers=headers, timeout=60) as http:
        body = {
            "tenant": f"seeded{unique('x')[-8:]}.example.com",
            "cloud": CLOUD,
            "profile_id": sim_profile["id"],
            "enabled": False,
            "name": unique("Seeded"),
        }
        created = http.post("/api/v1/tenants", json=body)
        assert created.status_code == 201, created.text
        tenant = dict(created.json())
        seed_history(console_stack.nats_url, console_stack.names, tenant["id"], SEEDED_RUNS)

        def all_rows() -> bool:
            page = http.get(f"/api/v1/tenants/{tenant['id']}/history", params={"page_size": 1000})
            return page.json()["total"] == SEEDED_RUNS * 3

        eventually(all_rows, "the seeded runs' history rows")
        return tenant
