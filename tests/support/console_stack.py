"""The whole system behind the console, as the console and browser suites set it up.

Each suite starts its own stack (its own simulator, databases and subject prefix) from these
pieces; what differs between them (simulator size, console settings) stays in its conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from entrasync_devtools.history_seed import seed_history
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ConsoleAccess, ServiceStack, simulated_stack_settings
from entrasync_sim.launcher import SimulatorProcess

from support.polling import eventually_blocking

CLOUD = "simlab"
"""The custom cloud every test stack reaches the simulator through."""
SEEDED_RUNS = 40
"""Runs `seeded_tenant` publishes: three Sync History rows each (user, group, device)."""


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


def stack_environment(
    sim: SimulatorProcess, workdir: Path, label: str, *, prefix_label: str
) -> tuple[dict[str, str], str]:
    """Settings every service of a test stack gets, and the stack's subject prefix."""
    extra = {"ENTRASYNC_CONFIG_TEST_TIMEOUT_SECONDS": "15"}
    return simulated_stack_settings(
        sim, workdir, label, prefix_label=prefix_label, cloud=CLOUD, extra=extra
    )


def service_stack(
    infra: LocalInfra,
    sim: SimulatorProcess,
    workdir: Path,
    label: str,
    *,
    prefix_label: str,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
) -> ServiceStack:
    """Every service and the console as processes, syncing `sim` (enter it to start them)."""
    env, prefix = stack_environment(sim, workdir, label, prefix_label=prefix_label)
    return ServiceStack(
        infra.nats_url,
        infra.mongodb_uri,
        workdir,
        env,
        prefix=prefix,
        service_env={service: dict(values) for service, values in (service_env or {}).items()},
    )


def api_client(access: ConsoleAccess) -> httpx.Client:
    """A script's client of the console's REST API: the API token, no cookies."""
    headers = {"authorization": f"Bearer {access.api_token}"}
    return httpx.Client(base_url=access.url, headers=headers, timeout=60)


def simulator_profile(api: httpx.Client, sim: SimulatorProcess, name: str) -> dict[str, Any]:
    """A credential profile holding the simulated tenant's real app credentials."""
    simulated = sim.tenants[0]
    body = {
        "name": unique(name),
        "client_id": simulated["client_id"],
        "client_secret": simulated["client_secret"],
    }
    created = api.post("/api/v1/credential-profiles", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def seeded_history_tenant(
    api: httpx.Client, stack: ServiceStack, profile_id: str
) -> dict[str, Any]:
    """A disabled tenant (never scheduled) with `SEEDED_RUNS` runs in its Sync History.

    The runs' start/finish events are published on the pipeline as a syncer would (40 real runs
    would take minutes); history turns them into rows as usual.
    """
    body = {
        "tenant": f"seeded{uuid.uuid4().hex[:8]}.example.com",
        "cloud": CLOUD,
        "profile_id": profile_id,
        "enabled": False,
        "name": unique("Seeded"),
    }
    created = api.post("/api/v1/tenants", json=body)
    assert created.status_code == 201, created.text
    tenant = dict(created.json())
    seed_history(stack.nats_url, stack.names, tenant["id"], SEEDED_RUNS)

    def all_rows() -> bool:
        page = api.get(f"/api/v1/tenants/{tenant['id']}/history", params={"page_size": 1000})
        return bool(page.json()["total"] == SEEDED_RUNS * 3)

    eventually_blocking(all_rows, "the seeded runs' history rows", 60, interval=0.2)
    return tenant
