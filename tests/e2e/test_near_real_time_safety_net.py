"""Near real time loses nothing when Graph's notifications are lost: the scheduler still polls a
near-real-time tenant's users and groups at the safety-net interval (shortened here to seconds).

Real: nats-server, mongod, the simulator (losing every notification of the tenant), and every
service as a process.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import CLOUD, eventually, recorded, stream_last_seq
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack, simulated_stack_settings
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from nrt_helpers import graph_subscriptions, records, register_nrt, runs_by_reason, updated_events

pytestmark = pytest.mark.timeout(240)

POLL_SECONDS = 5  # the test waits for the next poll: each second here is one of the suite's


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(users=20, groups=3, devices=3, page_size=25, seed=22) as s:
        yield s


@pytest.fixture(scope="module")
def stack(
    infra: LocalInfra, sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    workdir: Path = tmp_path_factory.mktemp("nrtpoll")
    extra = {"ENTRASYNC_NRT_POLL_SECONDS": str(POLL_SECONDS)}
    env, prefix = simulated_stack_settings(sim, workdir, "nrtpoll", cloud=CLOUD, extra=extra)
    services = ("config", "history", "syncer", "scheduler", "receiver")  # no console: unused
    with ServiceStack(
        infra.nats_url, infra.mongodb_uri, workdir, env, prefix=prefix, services=services
    ) as running:
        yield running


async def test_a_change_whose_notification_is_lost_arrives_by_the_safety_net_poll(
    sim: SimulatorProcess, control: SimulatorControl, stack: ServiceStack, bus: NatsClient
) -> None:
    app = sim.tenants[0]
    sim_tenant = app["tenant_id"]
    tenant = await register_nrt(bus, stack, app)

    # The first run (a full scan) recorded first: a change made while it still reads Graph
    # would be its, not the safety-net poll's.
    async def first_run() -> dict[str, Any] | None:
        return next(iter((await recorded(bus, stack, tenant.id)).values()), None)

    assert (await eventually(first_run, "the first run"))["status"] == "Succeeded"

    async def subscribed() -> dict[str, Any] | None:
        found = await records(bus, stack, tenant.id)
        active = len(found) == 2 and all(r.state == "active" for r in found.values())
        return found if active else None

    await eventually(subscribed, "both subscriptions")
    assert set(graph_subscriptions(control, sim_tenant, stack)) == {"users", "groups"}
    control.set_notification_delivery(sim_tenant, loss=1.0)
    before = set(await recorded(bus, stack, tenant.id))
    seq = await stream_last_seq(bus.jetstream(), stack.names.events_stream)
    user = sorted(u["id"] for u in control.truth(sim_tenant, "users"))[0]
    title = f"lost-{uuid.uuid4().hex[:8]}"

    control.update(sim_tenant, "users", user, {"jobTitle": title})

    async def the_event() -> list[dict[str, Any]] | None:
        events = await updated_events(bus, stack, tenant.id, seq)
        return [e for e in events if e["data"]["changed"].get("jobTitle") == title] or None

    (event,) = await eventually(
        the_event, "the event, by the safety-net poll", within=max(4 * POLL_SECONDS, 60)
    )

    # history publishes a batch's events before the run's finish records the run
    async def its_run() -> dict[str, Any] | None:
        return (await recorded(bus, stack, tenant.id)).get(event["data"]["run_id"])

    by = await eventually(its_run, "the event's run recorded")
    assert (by["reason"], by["mode"]) == ("schedule", "delta"), by
    assert {t["object_type"] for t in by["types"]} >= {"user", "group"}
    assert await runs_by_reason(bus, stack, tenant.id, "notification", before) == []
    assert control.notification_delivery(sim_tenant)["lost"] >= 1
