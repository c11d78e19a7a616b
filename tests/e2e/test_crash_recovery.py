"""A syncer killed in the middle of a full run: another syncer takes the command over and the
run still converges exactly (even though the directory changed in between), with one `created`
event per object and one recorded run.

Config, history and scheduler run from the module's `ServiceStack`; the syncers are started
and SIGKILLed by the test itself. Every Graph page is slowed down by the simulator so the run
is long enough to be killed half-way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import (
    ServiceProcess,
    differences,
    eventually,
    live_inventory,
    read_events,
    register,
)
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack, simulated_stack_settings
from entrasync_shared.messages import (
    HistoryRow,
    HistoryRunsQuery,
    Page,
    Tenant,
)
from entrasync_shared.natsutil import call
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from pymongo import MongoClient

pytestmark = pytest.mark.timeout(240)

CLOUD = "crashlab"
# Short ack wait, keepalive and lease: a dead syncer's command comes back within seconds.
SYNCER_ENV = {
    "ENTRASYNC_SYNCER_ACK_WAIT": "3",
    "ENTRASYNC_SYNCER_KEEPALIVE": "1",
    "ENTRASYNC_SYNCER_LEASE_SECONDS": "3",
    "ENTRASYNC_SYNCER_NAK_DELAY": "0.5",
    # Small batches (pages otherwise share one): the kill lands after a few of them.
    "ENTRASYNC_SYNCER_MAX_BATCH_BYTES": "16384",
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(users=400, groups=30, devices=60, page_size=20, seed=13, tenants=2) as s:
        yield s


@pytest.fixture(scope="module")
def stack(
    infra: LocalInfra, sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    workdir: Path = tmp_path_factory.mktemp("crash")
    env, prefix = simulated_stack_settings(sim, workdir, "e2e", prefix_label="crash", cloud=CLOUD)
    services = ("config", "history", "scheduler")
    with ServiceStack(
        infra.nats_url, infra.mongodb_uri, workdir, env, prefix=prefix, services=services
    ) as running:
        yield running


def new_syncer(stack: ServiceStack, name: str) -> ServiceProcess:
    """One `entrasync-syncer` process, configured like the stack's services."""
    return ServiceProcess(stack, "syncer", name, SYNCER_ENV)


async def observed_batches(bus: NatsClient, stack: ServiceStack, tenant_id: str) -> int:
    names = stack.names
    info = await bus.jetstream().stream_info(
        names.pipeline_stream, subjects_filter=names.stored(names.observed(tenant_id, "user"))
    )
    return sum((info.state.subjects or {}).values())


@dataclass
class Outcome:
    """What a run that lost its syncer half-way left behind."""

    tenant: Tenant
    run: dict[str, Any]
    truth: dict[str, list[dict[str, Any]]]
    inventory_problems: list[str]
    created: Counter[tuple[str, str]]
    updated: list[dict[str, Any]]
    retried_log: str
    starts: list[dict[str, Any]]
    """The run's `SyncStarted` messages, one per attempt that began reading Graph."""
    rows: list[HistoryRow]
    """The run's Sync History rows, as the history API lists them."""


async def kill_mid_run(
    infra: LocalInfra,
    sim: SimulatorProcess,
    stack: ServiceStack,
    bus: NatsClient,
    index: int,
    meanwhile: Callable[[SimulatorControl, str], None],
) -> Outcome:
    """Register simulator tenant `index`, SIGKILL the syncer once its full run has published a
    few batches, let `meanwhile` change the directory, start another syncer, await the record."""
    names = stack.names
    sim_tenant = sim.tenants[index]["tenant_id"]
    with SimulatorControl(sim.control_url, sim.ca_file) as control:
        slow = control.inject_fault("*/delta", latency=0.15, tenant_id=sim_tenant)
        first = new_syncer(stack, f"syncer-{index}-1")
        second: ServiceProcess | None = None
        try:
            await first.ready()
            tenant = await register(bus, stack, sim.tenants[index], cloud=CLOUD)

            async def half_way() -> bool:
                return await observed_batches(bus, stack, tenant.id) >= 3

            await eventually(half_way, "the first batches of the run", within=60)
            first.kill()
            assert " Succeeded: " not in first.log.read_text(errors="replace")
            control.remove_fault(slow)
            meanwhile(control, sim_tenant)
            second = new_syncer(stack, f"syncer-{index}-2")

            async def recorded() -> list[dict[str, Any]]:
                events = await read_events(
                    bus.jetstream(), names.events_stream, names.sync_recorded(tenant.id)
                )
                return [e["data"] for e in events]

            [run] = await eventually(recorded, "the run to be recorded", within=90)
            truth = control.state(sim_tenant)
        finally:
            first.stop()
            if second is not None:
                second.stop()
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    inventory = live_inventory(mongo, stack.env["ENTRASYNC_HISTORY_DB"], tenant.id)
    mongo.close()
    prefix = names.directory_event(tenant.id, "user", "created").split(".user.")[0]
    events = await read_events(bus.jetstream(), names.events_stream, f"{prefix}.>")
    starts = await read_events(
        bus.jetstream(), names.pipeline_stream, names.stored(names.run_event(tenant.id, "started"))
    )
    query = HistoryRunsQuery(tenant_id=tenant.id, changes_only=False)
    rows = await call(bus, names.api("history", "runs.list"), query, Page[HistoryRow])
    return Outcome(
        tenant=tenant,
        run=run,
        truth=truth,
        inventory_problems=differences(inventory, truth),
        created=Counter(
            (e["data"]["object_type"], e["data"]["object_id"])
            for e in events
            if e["type"].endswith(".created")
        ),
        updated=[e for e in events if e["type"].endswith(".updated")],
        retried_log=second.log.read_text(errors="replace"),
        starts=starts,
        rows=[row for row in rows.items if row.run_id == run["run_id"]],
    )


def leave_alone(control: SimulatorControl, sim_tenant: str) -> None:
    """The directory does not change while no syncer runs."""


def move_on(control: SimulatorControl, sim_tenant: str) -> None:
    """While no syncer runs, the directory changes under the run. Delta pages go in id order,
    so the user with the smallest id was already published by the first attempt."""
    users = sorted(u["id"] for u in control.truth(sim_tenant, "users"))
    control.delete(sim_tenant, "users", users[0], hard=True)
    control.update(sim_tenant, "users", users[1], {"jobTitle": "Survivor"})
    control.create(sim_tenant, "users", {"displayName": "Late Arrival"})


async def test_a_syncer_killed_mid_run_is_replaced_and_the_run_converges_exactly(
    infra: LocalInfra, sim: SimulatorProcess, stack: ServiceStack, bus: NatsClient
) -> None:
    outcome = await kill_mid_run(infra, sim, stack, bus, 0, leave_alone)

    run = outcome.run
    assert (run["mode"], run["reason"], run["status"]) == ("full", "first", "Succeeded"), run
    assert outcome.inventory_problems == [], "\n".join(outcome.inventory_problems)
    expected = sum(len(outcome.truth[kind]) for kind in ("users", "groups", "devices"))
    assert len(outcome.created) == expected and set(outcome.created.values()) == {1}
    assert outcome.updated == []
    assert re.search(r"attempt [2-9]", outcome.retried_log)
    assert_recorded_from_the_first_start_with_every_attempt(outcome)


def assert_recorded_from_the_first_start_with_every_attempt(outcome: Outcome) -> None:
    """The killed attempt's start is the run's start, its end the last attempt's end, and the
    rows and the published record count the attempts (MongoDB keeps milliseconds)."""
    run, rows = outcome.run, outcome.rows
    attempts = sorted(start["attempt"] for start in outcome.starts)
    assert attempts[0] == 1 and attempts[-1] >= 2, attempts
    first_start = min(datetime.fromisoformat(start["at"]) for start in outcome.starts)
    assert run["attempts"] == attempts[-1]
    assert abs(datetime.fromisoformat(run["started_at"]) - first_start) < timedelta(milliseconds=1)
    assert len(rows) == 3
    for row in rows:
        assert row.attempts == attempts[-1]
        assert abs(row.started_at - first_start) < timedelta(milliseconds=1)
        assert row.finished_at is not None
        ended = datetime.fromisoformat(run["finished_at"])
        assert abs(row.finished_at - ended) < timedelta(milliseconds=1)


async def test_a_run_retried_after_the_directory_changed_still_converges_exactly(
    infra: LocalInfra, sim: SimulatorProcess, stack: ServiceStack, bus: NatsClient
) -> None:
    outcome = await kill_mid_run(infra, sim, stack, bus, 1, move_on)

    assert outcome.run["status"] == "Succeeded"
    assert outcome.inventory_problems == [], "\n".join(outcome.inventory_problems)
