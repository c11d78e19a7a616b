"""Groups with service principals and organisational contacts converge exactly, types included
(issue 17, point 4), through every service: the inventory's typed members equal the simulator's
truth after the first full run and after delta rounds that add, remove and purge such members,
and `members_changed` events name each member's type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import (
    differences,
    eventually,
    live_inventory,
    read_events,
    recorded,
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

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(users=40, groups=5, devices=3, page_size=10, seed=23) as s:
        yield s


@pytest.fixture
def mongo(infra: LocalInfra) -> Iterator[MongoClient[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    yield client
    client.close()


async def test_service_principal_and_contact_members_converge_with_their_types(
    mongo: MongoClient[dict[str, Any]],
    sim: SimulatorProcess,
    control: SimulatorControl,
    stack: ServiceStack,
    bus: NatsClient,
) -> None:
    js, names = bus.jetstream(), stack.names
    history_db = stack.env["ENTRASYNC_HISTORY_DB"]
    sim_tenant = sim.tenants[0]["tenant_id"]
    tenant = await register(bus, stack, sim.tenants[0])

    async def first_run() -> dict | None:
        runs = list((await recorded(bus, stack, tenant.id)).values())
        return runs[0] if runs else None

    assert (await eventually(first_run, "the first (full) run"))["status"] == "Succeeded"

    def exact() -> list[str]:
        return differences(live_inventory(mongo, history_db, tenant.id), control.state(sim_tenant))

    truth = control.state(sim_tenant)
    kinds = {t for g in truth["groups"] for t in g["memberTypes"].values()}
    assert {"user", "servicePrincipal", "orgContact"} <= kinds
    assert exact() == []

    # A delta round: a service principal and a contact join a group, its contacts leave.
    group = next(g for g in truth["groups"] if "orgContact" in g["memberTypes"].values())
    sp = next(s["id"] for s in truth["servicePrincipals"] if s["id"] not in group["members"])
    contact = next(c["id"] for c in truth["contacts"] if c["id"] not in group["members"])
    leaving = sorted(m for m, t in group["memberTypes"].items() if t == "orgContact")
    control.change_members(sim_tenant, group["id"], add=[sp, contact], remove=leaving)
    checkpoint = await stream_last_seq(js, names.events_stream)
    await run_now(bus, stack, tenant.id)
    assert exact() == []
    events = await read_events(js, names.events_stream, names.directory_events, checkpoint)
    [changed] = [e["data"] for e in events if e["subject"] == group["id"]]
    assert sorted((r["type"], r["id"]) for r in changed["added_members"]) == sorted(
        [("servicePrincipal", sp), ("orgContact", contact)]
    )
    assert [(r["type"], r["id"]) for r in changed["removed_members"]] == [
        ("orgContact", c) for c in leaving
    ]

    # A purged service principal leaves every group it was in (a type entrasync does not sync).
    control.delete(sim_tenant, "servicePrincipals", sp, hard=True)
    await run_now(bus, stack, tenant.id)
    assert exact() == []
    groups = live_inventory(mongo, history_db, tenant.id)["group"]
    assert all(sp not in g["members"] for g in groups.values())
