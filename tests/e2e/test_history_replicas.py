"""Two history replicas share the partitioned pipeline (issue 22): twenty tenants' full runs
converge exactly while one replica is SIGKILLed mid-run — the other takes its partitions over —
no public event id repeats, and each tenant's events come in the order of its changes.

Config, scheduler and syncer run from the module's `ServiceStack`; the two `entrasync-history`
processes are started and killed by the test. Graph pages are slowed down so the kill lands
while runs are being applied.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
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
    stored_messages,
)
from entrasync_devtools.infra import LocalInfra, free_port
from entrasync_devtools.stack import ServiceStack, simulated_stack_settings
from entrasync_shared.messages import SyncNow, SyncNowAccepted, Tenant
from entrasync_shared.natsutil import call
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from pymongo import MongoClient

pytestmark = pytest.mark.timeout(300)

CLOUD = "replicalab"
TENANTS = 20
# A dead replica's message comes back after the ack wait: short here, kept alive meanwhile.
HISTORY_ENV = {
    "ENTRASYNC_HISTORY_PIPELINE_ACK_WAIT_SECONDS": "3",
    "ENTRASYNC_HISTORY_KEEPALIVE_SECONDS": "1",
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(
        users=30, groups=6, devices=8, page_size=5, seed=29, tenants=TENANTS
    ) as running:
        yield running


@pytest.fixture(scope="module")
def stack(
    infra: LocalInfra, sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    workdir: Path = tmp_path_factory.mktemp("replicas")
    env, prefix = simulated_stack_settings(sim, workdir, "e2e", prefix_label="repl", cloud=CLOUD)
    services = ("config", "scheduler", "syncer")
    with ServiceStack(
        infra.nats_url, infra.mongodb_uri, workdir, env, prefix=prefix, services=services
    ) as running:
        yield running


def new_history(stack: ServiceStack, name: str) -> ServiceProcess:
    """One `entrasync-history` process on the stack's database, with its own health port."""
    env = {
        "ENTRASYNC_MONGODB_URI": stack.mongodb_uri,
        "ENTRASYNC_HISTORY_DB": stack.env["ENTRASYNC_HISTORY_DB"],
        "ENTRASYNC_HEALTH_PORT": str(free_port()),
        **HISTORY_ENV,
    }
    return ServiceProcess(stack, "history", name, env)


def applied_batches(infra: LocalInfra, stack: ServiceStack) -> int:
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    try:
        return mongo[stack.env["ENTRASYNC_HISTORY_DB"]]["applied_batches"].count_documents({})
    finally:
        mongo.close()


async def recorded_runs(bus: NatsClient, stack: ServiceStack, tenant: Tenant) -> list[Any]:
    events = await read_events(
        bus.jetstream(), stack.names.events_stream, stack.names.sync_recorded(tenant.id)
    )
    return [e["data"] for e in events]


async def with_sequences(js: JetStreamContext, stream: str, subject: str) -> list[Any]:
    """Every message on `subject`, decoded, with its stream sequence as `_seq`."""
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    found = await stored_messages(js, stream, subject, config)
    return [{**json.loads(m.data), "_seq": m.metadata.sequence.stream} for m in found]


async def tenant_events(bus: NatsClient, stack: ServiceStack, tenant: Tenant) -> list[Any]:
    """Every public event of `tenant` in stream order: directory changes and recorded runs."""
    names, js = stack.names, bus.jetstream()
    prefix = names.directory_event(tenant.id, "user", "created").split(".user.")[0]
    events = await with_sequences(js, names.events_stream, f"{prefix}.>")
    records = await with_sequences(js, names.events_stream, names.sync_recorded(tenant.id))
    return sorted(events + records, key=lambda e: e["_seq"])


async def test_two_replicas_share_the_pipeline_and_one_killed_mid_run_loses_nothing(
    infra: LocalInfra, sim: SimulatorProcess, stack: ServiceStack, bus: NatsClient
) -> None:
    first, second = new_history(stack, "history-1"), new_history(stack, "history-2")
    with SimulatorControl(sim.control_url, sim.ca_file) as control:
        slow = control.inject_fault("*/delta", latency=0.05)
        try:
            await first.ready()
            await second.ready()
            tenants = [await register(bus, stack, app, cloud=CLOUD) for app in sim.tenants]

            async def under_way() -> bool:
                return applied_batches(infra, stack) >= 40

            await eventually(under_way, "runs to be under way", within=90)
            first.kill()
            control.remove_fault(slow)

            async def all_recorded() -> bool:
                runs = [await recorded_runs(bus, stack, t) for t in tenants]
                return all(len(r) >= 1 for r in runs)

            await eventually(all_recorded, "every tenant's first run recorded", within=150)
            first_runs = {t.id: await recorded_runs(bus, stack, t) for t in tenants}
            # Then a change per tenant, synced as a delta round by the surviving replica.
            changed: dict[str, str] = {}
            for tenant, app in zip(tenants, sim.tenants, strict=True):
                user = sorted(u["id"] for u in control.truth(app["tenant_id"], "users"))[0]
                control.update(app["tenant_id"], "users", user, {"jobTitle": "Moved"})
                changed[tenant.id] = user
                accepted = await call(
                    bus,
                    stack.names.api("scheduler", "sync_now"),
                    SyncNow(tenant_id=tenant.id),
                    SyncNowAccepted,
                )
                assert accepted.status in ("queued", "deferred"), accepted

            async def second_runs() -> bool:
                runs = [await recorded_runs(bus, stack, t) for t in tenants]
                return all(len(r) >= 2 for r in runs)

            await eventually(second_runs, "every tenant's second run recorded", within=120)
            truths = {
                t.id: control.state(app["tenant_id"])
                for t, app in zip(tenants, sim.tenants, strict=True)
            }
        finally:
            first.stop()
            second.stop()

    assert "history ready" in second.log.read_text(errors="replace")
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    try:
        for tenant in tenants:
            inventory = live_inventory(mongo, stack.env["ENTRASYNC_HISTORY_DB"], tenant.id)
            problems = differences(inventory, truths[tenant.id])
            assert problems == [], (tenant.id, problems)
    finally:
        mongo.close()
    for tenant in tenants:
        [run] = first_runs[tenant.id]
        assert (run["mode"], run["status"]) == ("full", "Succeeded"), run
        events = await tenant_events(bus, stack, tenant)
        ids = Counter(e["id"] for e in events)
        assert [i for i, n in ids.items() if n > 1] == [], tenant.id
        # In change order: the first run's changes, its record, the delta's change, its record.
        kinds = [e["type"].rsplit(".", 1)[-1] for e in events]
        first_record = kinds.index("recorded")
        assert set(kinds[:first_record]) <= {"created", "members_changed"}, kinds
        later = events[first_record + 1 :]
        updates = [e for e in later if e["type"].endswith(".updated")]
        assert [e["data"]["object_id"] for e in updates] == [changed[tenant.id]]
        assert later[-1]["type"].endswith(".recorded")
        assert events.index(updates[0]) < len(events) - 1
