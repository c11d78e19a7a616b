"""A restore that Graph leaves out of a `$select` delta round (microsoft-graph-docs#5821,
the simulator's `missed_restores` quirk) reaches the inventory by the periodic full scan
(issue 17, point 2): the scheduler forces a full run when the last full success is older than
`ENTRASYNC_SCHEDULER_FULL_SCAN_EVERY_SECONDS` (a day by default; 15 s here).

Runs happen only when the test asks (hourly interval): the run after the period is full
because the period has passed, not because anything asked for a full scan.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import differences, eventually, live_inventory, read_events, register
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack, simulated_stack_settings
from entrasync_shared.messages import (
    SyncNow,
    SyncNowAccepted,
)
from entrasync_shared.natsutil import call
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from pymongo import MongoClient

pytestmark = pytest.mark.timeout(300)

# Long enough for the two delta runs before it, even on a busy machine: they take about 0.5 s
# on an idle one; the test waits the period out, so every second of it is a second of the suite.
PERIOD = 15.0


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(users=20, groups=3, devices=2, page_size=10, seed=52) as s:
        yield s


@pytest.fixture(scope="module")
def stack(
    infra: LocalInfra, sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    workdir: Path = tmp_path_factory.mktemp("stack")
    extra = {"ENTRASYNC_SCHEDULER_FULL_SCAN_EVERY_SECONDS": str(PERIOD)}
    env, prefix = simulated_stack_settings(sim, workdir, "e2e", extra=extra)
    services = ("config", "history", "syncer", "scheduler", "receiver")  # no console: unused
    with ServiceStack(
        infra.nats_url, infra.mongodb_uri, workdir, env, prefix=prefix, services=services
    ) as running:
        yield running


async def recorded(bus: NatsClient, stack: ServiceStack, tenant_id: str) -> list[dict]:
    names = stack.names
    events = await read_events(bus.jetstream(), names.events_stream, names.sync_recorded(tenant_id))
    return [event["data"] for event in events]


async def run_now(bus: NatsClient, stack: ServiceStack, tenant_id: str) -> dict[str, Any]:
    """Ask for a run and wait until it is recorded (it must succeed)."""
    subject = stack.names.api("scheduler", "sync_now")
    accepted = await call(bus, subject, SyncNow(tenant_id=tenant_id), SyncNowAccepted)
    assert accepted.status == "queued", accepted

    async def probe() -> dict | None:
        runs = await recorded(bus, stack, tenant_id)
        return next((run for run in runs if run["run_id"] == accepted.run_id), None)

    done = await eventually(probe, f"run {accepted.run_id} recorded")
    assert done["status"] == "Succeeded", done
    return done


def user_mode(run: dict[str, Any]) -> str:
    return next(t["mode"] for t in run["types"] if t["object_type"] == "user")


async def test_a_restore_missed_by_select_delta_rounds_is_live_after_the_periodic_full_scan(
    infra: LocalInfra,
    sim: SimulatorProcess,
    control: SimulatorControl,
    stack: ServiceStack,
    bus: NatsClient,
) -> None:
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    history_db = stack.env["ENTRASYNC_HISTORY_DB"]
    sim_tenant = sim.tenants[0]["tenant_id"]
    tenant = await register(bus, stack, sim.tenants[0])

    async def first_run() -> dict | None:
        runs = await recorded(bus, stack, tenant.id)
        return runs[0] if runs else None

    assert (await eventually(first_run, "the first (full) run"))["status"] == "Succeeded"
    full_at = time.monotonic()

    def inventory_users() -> dict[str, dict[str, Any]]:
        return live_inventory(mongo, history_db, tenant.id)["user"]

    user = sorted(u["id"] for u in control.state(sim_tenant)["users"])[0]
    control.delete(sim_tenant, "users", user)
    assert user_mode(await run_now(bus, stack, tenant.id)) == "delta"
    assert user not in inventory_users()

    control.set_delta_quirks(sim_tenant, missed_restores=1.0)
    control.restore(sim_tenant, "users", user)
    missed = await run_now(bus, stack, tenant.id)
    assert user_mode(missed) == "delta", "the delta runs took longer than the period"
    assert user not in inventory_users()  # Graph's habit: the restore never came

    await asyncio.sleep(max(0.0, full_at + PERIOD + 1 - time.monotonic()))
    assert user_mode(await run_now(bus, stack, tenant.id)) == "full"
    assert user in inventory_users()
    assert (
        differences(live_inventory(mongo, history_db, tenant.id), control.state(sim_tenant)) == []
    )
    mongo.close()
