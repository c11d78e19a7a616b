"""history keeps typed member references (issue 17, point 4), with real NATS and MongoDB: a
group's service principals and contacts are stored with their types, `members_changed` events
carry them, the objects API shows them, untyped members stored earlier read as `unknown`, and a
hard-deleted user still leaves every group."""

from typing import Any

from entrasync_shared.messages import HistoryObjectQuery, InventoryItem, ObservedObject
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from history_helpers import TENANT, Pipeline, Run, live_inventory
from nats.aio.client import Client as NatsClient


def group(gid: str, added: dict[str, str], removed: dict[str, str] | None = None) -> ObservedObject:
    """A group observation; `added`/`removed` map member ids to their one-letter type codes."""
    removed = removed or {}
    return ObservedObject(
        id=gid,
        attributes={"displayName": gid},
        members_added=tuple(added),
        members_added_types="".join(added.values()),
        members_removed=tuple(removed),
        members_removed_types="".join(removed.values()),
    )


def typed(refs: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(r["type"], r["id"]) for r in refs}


async def members_events(pipeline: Pipeline, run_id: str) -> list[dict[str, Any]]:
    return [
        e["data"]
        for e in await pipeline.events()
        if e["type"].endswith("members_changed") and e["data"]["run_id"] == run_id
    ]


async def test_typed_members_are_stored_published_and_shown_and_a_hard_delete_leaves_groups(
    history: None, pipeline: Pipeline, db: Any, nc: NatsClient, names: Names
) -> None:
    full = await Run(pipeline, "full").start()
    await full.send("user", [ObservedObject(id="u1", attributes={"displayName": "U1"})])
    # Every member of a synced type exists in the run: a full run's finish hides edges to users,
    # groups and devices it did not find live (issue 17.5).
    await full.send("device", [ObservedObject(id="d1", attributes={"displayName": "D1"})])
    await full.send("group", [group("g1", {"u1": "u", "sp1": "s", "c1": "c", "g2": "g"})])
    await full.send("group", [group("g2", {"d1": "d", "u1": "u"})])
    await full.finish()

    stored = await live_inventory(db, TENANT, "group")
    assert stored["g1"]["member_types"] == {
        "sp1": "servicePrincipal",
        "c1": "orgContact",
        "g2": "group",
    }
    [g1_event] = [e for e in await members_events(pipeline, full.run_id) if e["object_id"] == "g1"]
    assert typed(g1_event["added_members"]) == {
        ("user", "u1"),
        ("servicePrincipal", "sp1"),
        ("orgContact", "c1"),
        ("group", "g2"),
    }
    assert [r["id"] for r in g1_event["added_members"]] == g1_event["added"]
    item = await call(
        nc,
        names.api("history", "objects.get"),
        HistoryObjectQuery(tenant_id=TENANT, object_type="group", object_id="g2"),
        InventoryItem,
    )
    assert {(r.type, r.id) for r in item.member_refs} == {("device", "d1"), ("user", "u1")}

    delta = await Run(pipeline, "delta").start()
    await delta.send("user", removals=[("u1", "deleted")])
    await delta.send("group", [group("g1", {}, removed={"c1": "c"})])
    await delta.finish()

    stored = await live_inventory(db, TENANT, "group")
    assert (stored["g1"]["members"], stored["g2"]["members"]) == (["g2", "sp1"], ["d1"])
    removed = [
        (e["object_id"], sorted(typed(e["removed_members"])))
        for e in await members_events(pipeline, delta.run_id)
    ]
    assert sorted(removed) == [
        ("g1", [("orgContact", "c1")]),
        ("g1", [("user", "u1")]),  # the hard delete, from the users batch
        ("g2", [("user", "u1")]),
    ]


async def test_members_stored_before_types_read_as_unknown_until_a_full_round_types_them(
    history: None, pipeline: Pipeline, db: Any, nc: NatsClient, names: Names
) -> None:
    first = await Run(pipeline, "full").start()
    await first.send("user", [ObservedObject(id="u1", attributes={"displayName": "U1"})])
    await first.send("group", [group("g1", {"u1": "u", "sp1": "s"})])
    await first.finish()
    # As a group document written before history kept types.
    await db["inventory"].update_many(
        {"tenant_id": TENANT}, {"$unset": {"member_types": "", "member_default": ""}}
    )

    async def refs() -> set[tuple[str, str]]:
        item = await call(
            nc,
            names.api("history", "objects.get"),
            HistoryObjectQuery(tenant_id=TENANT, object_type="group", object_id="g1"),
            InventoryItem,
        )
        return {(r.type, r.id) for r in item.member_refs}

    assert await refs() == {("unknown", "u1"), ("unknown", "sp1")}

    again = await Run(pipeline, "full").start()
    await again.send("user", [ObservedObject(id="u1", attributes={"displayName": "U1"})])
    await again.send("group", [group("g1", {"u1": "u", "sp1": "s"})])
    await again.finish()

    assert await refs() == {("user", "u1"), ("servicePrincipal", "sp1")}
    assert await members_events(pipeline, again.run_id) == []
