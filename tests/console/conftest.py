"""Console fixtures: the whole system, used the way an admin's browser or a script uses it.

Real: nats-server with JetStream and mongod (session `infra`), the Graph/Entra simulator as its
own HTTPS process, and config, scheduler, syncer, history and the console each as a separate
process started from its console script (`entrasync_devtools.stack.ServiceStack`), configured
only through environment variables. Tests speak HTTP to the console (REST API and pages) and run
`entrasync-ctl` as a subprocess. One stand-in: the paging tests need ~120 Sync History rows, so
`support.console_stack.seeded_history_tenant` publishes 40 runs' start/finish events on the
pipeline exactly as a syncer would (40 real runs would take minutes); history turns them into
rows as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from console_helpers import (
    CLOUD,
    PROXY,
    wait_for_first_sync,
)
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ConsoleAccess, ServiceStack
from entrasync_sim.launcher import SimulatorProcess
from support.console_stack import (
    api_client,
    seeded_history_tenant,
    service_stack,
    simulator_profile,
)


@pytest.fixture(scope="session")
def console_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(users=30, groups=4, devices=6, page_size=50, seed=3) as sim:
        yield sim


@pytest.fixture(scope="session")
def console_stack(
    infra: LocalInfra, console_sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    workdir = tmp_path_factory.mktemp("console-stack")
    throttle = {
        "ENTRASYNC_CONSOLE_LOGIN_MAX_FAILURES": "3",
        "ENTRASYNC_CONSOLE_LOGIN_DELAY_SECONDS": "2",
        "ENTRASYNC_CONSOLE_LOGIN_MAX_DELAY_SECONDS": "8",
        "ENTRASYNC_CONSOLE_LOGIN_WINDOW_SECONDS": "4",
        "ENTRASYNC_CONSOLE_TRUSTED_PROXIES": PROXY,
    }
    stack = service_stack(
        infra,
        console_sim,
        workdir,
        "console",
        prefix_label="con",
        service_env={"console": throttle},
    )
    with stack as running:
        yield running


@pytest.fixture(scope="session")
def access(console_stack: ServiceStack) -> ConsoleAccess:
    assert console_stack.console is not None
    return console_stack.console


@pytest.fixture
def api(access: ConsoleAccess) -> Iterator[httpx.Client]:
    """A script's client: the API token, no cookies."""
    with api_client(access) as client:
        yield client


@pytest.fixture
def anonymous(access: ConsoleAccess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=access.url, timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="session")
def sim_profile(access: ConsoleAccess, console_sim: SimulatorProcess) -> dict[str, Any]:
    """A credential profile holding the simulated tenant's real app credentials."""
    with api_client(access) as http:
        return simulator_profile(http, console_sim, "simulator app")


@pytest.fixture(scope="session")
def synced_tenant(
    access: ConsoleAccess, console_sim: SimulatorProcess, sim_profile: dict[str, Any]
) -> dict[str, Any]:
    """The simulated tenant, registered through the API and synced once for real."""
    with api_client(access) as http:
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
    with api_client(access) as http:
        return seeded_history_tenant(http, console_stack, sim_profile["id"])
