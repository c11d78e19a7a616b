"""Replication lag (delta-query-overview.md, "Processing delays"): a change made just before a
delta run reaches Graph's delta rounds only later. The inventory takes it from the first round
after the lag, and the change is published exactly once.

Every run after the first is one the test asks for (`sync_now`), not one it waits a schedule's
interval for: which of the two starts a delta run does not matter to Graph's lag."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from e2e_helpers import (
    differences,
    eventually,
    live_inventory,
    read_events,
    register,
    run_now,
    stream_last_seq,
)
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from pymongo import MongoClient

pytestmark = pytest.mark.timeout(240)
LAG = 1000.0  # simulated seconds: the test moves the simulator's clock past it


async def run_after(
    bus: NatsClient, stack: ServiceStack, tenant_id: str, moment: datetime
) -> dict[str, Any]:
    """The first recorded run of the tenant that started after `moment`."""
    names = stack.names

    async def probe() -> dict[str, Any] | None:
        events = await read_events(
            bus.jetstream(), names.events_stream, names.sync_recorded(tenant_id)
        )
        for event in events:
            if datetime.fromisoformat(event["data"]["started_at"]) > moment:
                return dict(event["data"])
        return None

    return await eventually(probe, f"a run started after {moment:%H:%M:%S}")


async def test_a_change_hidden_by_replication_lag_is_taken_once_after_the_lag(
    infra: LocalInfra,
    sim: SimulatorProcess,
    control: SimulatorControl,
    stack: ServiceStack,
    bus: NatsClient,
) -> None:
    js, names = bus.jetstream(), stack.names
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    history_db = stack.env["ENTRASYNC_HISTORY_DB"]
    sim_tenant = sim.tenants[0]["tenant_id"]
    tenant = await register(bus, stack, sim.tenants[0])
    first = await run_after(bus, stack, tenant.id, datetime.min.replace(tzinfo=UTC))
    assert (first["mode"], first["status"]) == ("full", "Succeeded"), first

    control.set_replication_lag(sim_tenant, LAG)
    checkpoint = await stream_last_seq(js, names.events_stream)
    before = control.truth(sim_tenant, "users")[0]
    user = before["id"]
    control.update(sim_tenant, "users", user, {"jobTitle": "Replicated late"})
    try:
        hidden = await run_now(bus, stack, tenant.id)
        hidden_events = await read_events(
            js, names.events_stream, names.directory_events, checkpoint
        )
        stale = differences(live_inventory(mongo, history_db, tenant.id), control.state(sim_tenant))

        control.advance_clock(LAG + 1)
        await run_now(bus, stack, tenant.id)
        caught_up = differences(
            live_inventory(mongo, history_db, tenant.id), control.state(sim_tenant)
        )
        await run_now(bus, stack, tenant.id)
        events = await read_events(js, names.events_stream, names.directory_events, checkpoint)
    finally:
        control.set_replication_lag(sim_tenant, 0)
        control.advance_clock(-(LAG + 1))
        mongo.close()

    assert (hidden["mode"], hidden["status"]) == ("delta", "Succeeded"), hidden
    assert hidden_events == []
    assert stale == [
        f"user {user}.jobTitle: stored {before.get('jobTitle')!r}, truth 'Replicated late'"
    ]
    assert caught_up == []
    assert [(e["type"].rsplit(".", 1)[1], e["data"]["object_id"]) for e in events] == [
        ("updated", user)
    ]
