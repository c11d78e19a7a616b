"""A mass deletion seen only by a full scan trips the safe-delete guardrail for objects *and*
memberships, and an operator's override lets all of it through, reported honestly
(issue 18, defects 1 and 2).

60% of the users are deleted in the directory (half soft, half purged) and a Graph reset sends
the next run to full rounds, so no delta round reports them: the full scan simply no longer
sees them. Graph's first round lists only what currently exists (delta-query-overview.md:
"Resources that have been created and deleted prior to the initial delta query won't be
returned"), so entrasync cannot tell which of them were soft-deleted.
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
from entrasync_shared.messages import (
    GuardrailOverrideGrant,
    GuardrailOverrides,
)
from entrasync_shared.natsutil import call
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from pymongo import MongoClient

pytestmark = pytest.mark.timeout(300)

OPERATOR = "e2e-operator"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(users=50, groups=6, devices=4, page_size=20, seed=18) as s:
        yield s


def row(run: dict[str, Any], object_type: str) -> dict[str, Any]:
    return next(t for t in run["types"] if t["object_type"] == object_type)


async def object_events(bus: NatsClient, stack: ServiceStack, after: int) -> list[dict]:
    names = stack.names
    return await read_events(bus.jetstream(), names.events_stream, names.directory_events, after)


def kind(event: dict[str, Any]) -> str:
    return str(event["type"]).rsplit(".", 1)[1]


async def test_a_mass_deletion_waits_for_an_override_then_goes_through_as_what_it_is(
    infra: LocalInfra,
    sim: SimulatorProcess,
    control: SimulatorControl,
    stack: ServiceStack,
    bus: NatsClient,
) -> None:
    js = bus.jetstream()
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    history_db = stack.env["ENTRASYNC_HISTORY_DB"]
    sim_tenant = sim.tenants[0]["tenant_id"]
    tenant = await register(bus, stack, sim.tenants[0])

    async def first_run() -> dict | None:
        runs = list((await recorded(bus, stack, tenant.id)).values())
        return runs[0] if runs else None

    first = await eventually(first_run, "the first (full) run")
    assert first["status"] == "Succeeded", first

    # A soft delete a delta round reports is known to be soft.
    truth = control.state(sim_tenant)
    users = sorted(u["id"] for u in truth["users"])
    grouped = {m for g in truth["groups"] for m in g["members"]}
    known_soft = next(u for u in users if u not in grouped)
    control.delete(sim_tenant, "users", known_soft)
    checkpoint = await stream_last_seq(js, stack.names.events_stream)
    delta = await run_now(bus, stack, tenant.id, must_succeed=False)
    assert (delta["mode"], delta["status"]) == ("delta", "Succeeded"), delta
    (soft_event,) = [e for e in await object_events(bus, stack, checkpoint) if kind(e) == "deleted"]
    assert soft_event["subject"] == known_soft
    assert (soft_event["data"]["soft"], soft_event["data"]["reason"]) == (True, "removed")

    # 60% of the live users go at once, half soft-deleted, half purged, grouped ones included;
    # a Graph reset makes the next run read every type in full (no delta round reports them).
    live = [u for u in users if u != known_soft]
    victims = live[: len(live) * 6 // 10 + 1]
    purged = victims[::2]
    assert set(purged) & grouped, "some purged users must be group members"
    control.mutate(
        sim_tenant,
        [
            {"op": "hard_delete" if u in purged else "soft_delete", "type": "user", "id": u}
            for u in victims
        ],
    )
    inventory_before = live_inventory(mongo, history_db, tenant.id)
    assert sorted(inventory_before["user"]) == live
    control.reset_tenant(sim_tenant)
    checkpoint = await stream_last_seq(js, stack.names.events_stream)
    refused = await run_now(bus, stack, tenant.id, must_succeed=False)

    # The guardrail refused the sweep and everything it implies: nothing was removed.
    assert row(refused, "user")["mode"] == "full" and row(refused, "group")["mode"] == "full"
    assert refused["status"] == "Failed"
    users_row, groups_row = row(refused, "user"), row(refused, "group")
    assert (users_row["status"], users_row["deleted"]) == ("Failed", 0)
    assert f"{len(victims)} of {len(live)} live user objects" in users_row["error"]
    assert groups_row["status"] == "Failed"
    assert "membership removals in" in groups_row["error"]
    assert "held back by the safe-delete guardrail on user" in groups_row["error"]
    removals = [
        e
        for e in await object_events(bus, stack, checkpoint)
        if kind(e) in ("deleted", "members_changed")
    ]
    assert removals == []
    assert live_inventory(mongo, history_db, tenant.id) == inventory_before

    # An operator overrides: the next full scan deletes the users and their memberships.
    await call(
        bus,
        stack.names.api("history", "guardrail.override"),
        GuardrailOverrideGrant(tenant_id=tenant.id, object_types=("user",), operator=OPERATOR),
        GuardrailOverrides,
    )
    control.reset_tenant(sim_tenant)
    checkpoint = await stream_last_seq(js, stack.names.events_stream)
    through = await run_now(bus, stack, tenant.id, must_succeed=False)
    assert through["status"] == "Succeeded", through
    users_row, groups_row = row(through, "user"), row(through, "group")
    assert (users_row["deleted"], users_row["guardrail_override"]) == (len(victims), OPERATOR)
    assert (groups_row["status"], groups_row["error"]) == ("Succeeded", None)

    events = await object_events(bus, stack, checkpoint)
    deleted = {e["subject"]: e["data"] for e in events if kind(e) == "deleted"}
    assert sorted(deleted) == victims
    # A full scan cannot tell the soft-deleted from the purged: it says so, it claims no purge.
    assert {(d["soft"], d["reason"]) for d in deleted.values()} == {(None, "not_seen_by_full_scan")}
    after = control.state(sim_tenant)
    members_after = {g["id"]: set(g["members"]) for g in after["groups"]}
    expected_removed = {
        g: set(doc["members"]) - members_after[g]
        for g, doc in inventory_before["group"].items()
        if set(doc["members"]) - members_after[g]
    }
    removed = {
        e["subject"]: set(e["data"]["removed"]) for e in events if kind(e) == "members_changed"
    }
    assert removed == expected_removed and expected_removed
    assert all(not e["data"]["added"] for e in events if kind(e) == "members_changed")
    assert differences(live_inventory(mongo, history_db, tenant.id), after) == []
    inventory = mongo[history_db]["inventory"]
    tombstones = {
        doc["object_id"]: doc["deletion"]
        for doc in inventory.find({"tenant_id": tenant.id, "object_type": "user", "deleted": True})
    }
    assert tombstones == {known_soft: "soft", **dict.fromkeys(victims, "unseen")}
    mongo.close()
