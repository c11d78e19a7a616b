"""The inventory stays exact under Graph's habits the simulator now has (issue 17, points 1, 3,
5 and 10): null properties left out of full rounds, security groups only ever hard-deleted,
soft-deleted members' edges kept (and listed by full rounds), restored groups listed whole.

Runs happen only when the test asks (hourly interval); `reset_tenant` makes Graph answer 410 to
every link so the next run reads every type in full, as if no delta link had been alive.
"""

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

M365 = {"groupTypes": ["Unified"], "mailEnabled": True, "securityEnabled": False}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(users=30, groups=4, devices=3, page_size=10, seed=17) as s:
        yield s


def modes(run: dict[str, Any]) -> set[str]:
    return {t["mode"] for t in run["types"]}


async def test_the_inventory_stays_exact_under_graphs_habits(
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

    async def first_run() -> dict | None:
        runs = list((await recorded(bus, stack, tenant.id)).values())
        return runs[0] if runs else None

    assert (await eventually(first_run, "the first (full) run"))["status"] == "Succeeded"

    def exact() -> list[str]:
        return differences(live_inventory(mongo, history_db, tenant.id), control.state(sim_tenant))

    def events_since(checkpoint: int) -> Any:
        return read_events(js, names.events_stream, names.directory_events, checkpoint)

    truth = control.state(sim_tenant)
    users = sorted(u["id"] for u in truth["users"])
    group = next(g for g in truth["groups"] if g["members"])
    member = next(m for m in group["members"] if m in users)
    cleared = next(u for u in users if u != member)
    control.update(sim_tenant, "users", cleared, {"jobTitle": "Chief"})
    await run_now(bus, stack, tenant.id)
    assert live_inventory(mongo, history_db, tenant.id)["user"][cleared]["jobTitle"] == "Chief"

    # Point 1: cleared while no delta link was alive; the full round leaves jobTitle out.
    control.update(sim_tenant, "users", cleared, {"jobTitle": None})
    control.reset_tenant(sim_tenant)
    scan = await run_now(bus, stack, tenant.id)
    assert modes(scan) == {"full"}
    assert exact() == []
    assert "jobTitle" not in live_inventory(mongo, history_db, tenant.id)["user"][cleared]

    # Point 5: a soft-deleted member leaves the list at once; an unchanged full scan (whose
    # groups round still lists the edge) publishes nothing; the restore brings the edge back.
    control.delete(sim_tenant, "users", member)
    await run_now(bus, stack, tenant.id)
    assert exact() == []
    assert (
        member not in live_inventory(mongo, history_db, tenant.id)["group"][group["id"]]["members"]
    )
    control.reset_tenant(sim_tenant)
    checkpoint = await stream_last_seq(js, names.events_stream)
    assert modes(await run_now(bus, stack, tenant.id)) == {"full"}
    assert await events_since(checkpoint) == []
    control.restore(sim_tenant, "users", member)
    await run_now(bus, stack, tenant.id)
    assert exact() == []
    assert member in live_inventory(mongo, history_db, tenant.id)["group"][group["id"]]["members"]

    # Point 3: deleting a security group purges it, and it leaves as a hard delete.
    security = next(g["id"] for g in truth["groups"] if "Unified" not in g.get("groupTypes", []))
    control.delete(sim_tenant, "groups", security)
    checkpoint = await stream_last_seq(js, names.events_stream)
    await run_now(bus, stack, tenant.id)
    assert exact() == []
    deleted = [e for e in await events_since(checkpoint) if e["subject"] == security]
    assert [(e["type"].rsplit(".", 1)[1], e["data"]["soft"]) for e in deleted] == [
        ("deleted", False)
    ]

    # Point 10: a Microsoft 365 group loses a member, gains one and is soft-deleted in one
    # window (the round reports only its removal); restored later, it comes back with exactly
    # its membership, not merged into what the inventory held before the deletion.
    a, b, c = users[:3]
    team = control.create(sim_tenant, "groups", {"displayName": "Team", **M365})["id"]
    control.change_members(sim_tenant, team, add=[a, b])
    await run_now(bus, stack, tenant.id)
    control.mutate(
        sim_tenant,
        [
            {"op": "remove_member", "group_id": team, "member_id": a},
            {"op": "add_member", "group_id": team, "member_id": c},
            {"op": "soft_delete", "type": "group", "id": team},
        ],
    )
    await run_now(bus, stack, tenant.id)
    control.restore(sim_tenant, "groups", team)
    await run_now(bus, stack, tenant.id)
    assert exact() == []
    assert live_inventory(mongo, history_db, tenant.id)["group"][team]["members"] == sorted([b, c])
    mongo.close()
