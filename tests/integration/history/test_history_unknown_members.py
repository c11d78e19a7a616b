"""A member a full round lists but the inventory never saw live (a user created and
soft-deleted before the scan: Graph keeps its edges, microsoft-graph-docs#7115) is hidden at the
run's finish, through MongoDB, and comes back once its object is recorded (issue 17.5)."""

import json
from typing import Any

from entrasync_shared.messages import ObservedObject
from history_helpers import TENANT, Pipeline, Run, obj


def group(group_id: str, members: dict[str, str]) -> ObservedObject:
    """A group as a typed syncer sends it: members id → type code."""
    return ObservedObject(
        id=group_id,
        attributes={"displayName": group_id},
        members_added=tuple(members),
        members_added_types="".join(members.values()),
    )


async def full_scan(pipeline: Pipeline) -> Run:
    run = await Run(pipeline, "full").start()
    await run.send("user", [obj("u1", displayName="U1")])
    await run.send("group", [group("g1", {"u1": "u", "u2": "u", "s1": "s"})])
    await run.send("device")
    await run.finish()
    return run


async def test_a_never_seen_member_is_hidden_and_comes_back_once_recorded(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    await full_scan(pipeline)
    g1 = await db["inventory"].find_one({"tenant_id": TENANT, "object_id": "g1"})
    assert (g1["members"], g1["hidden_members"], g1["pending_members"]) == (
        ["s1", "u1"],
        ["u2"],
        [],
    )

    again = await full_scan(pipeline)
    assert await pipeline.object_events(again.run_id) == [], "an unchanged full scan published"

    recorded = await Run(pipeline, "delta").start()
    await recorded.send("user", [obj("u2", displayName="U2")])
    await recorded.finish()
    g1 = await db["inventory"].find_one({"tenant_id": TENANT, "object_id": "g1"})
    assert (g1["members"], g1["hidden_members"]) == (["s1", "u1", "u2"], [])


async def test_a_restored_group_leaves_out_a_never_seen_member_at_a_delta_finish(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    # g1 gains u2, then both are soft-deleted before a full scan (which lists neither); g1's
    # restore comes in a delta round listing its edge to u2, which no round ever listed.
    await full_scan(pipeline)
    sweep = await Run(pipeline, "full").start()
    await sweep.send("user", [obj("u1", displayName="U1")])
    await sweep.send("group")
    await sweep.send("device")
    await sweep.finish()

    restored = await Run(pipeline, "delta").start()
    await restored.send("group", [group("g1", {"u1": "u", "u2": "u"})])
    await restored.finish()

    g1 = await db["inventory"].find_one({"tenant_id": TENANT, "object_id": "g1"})
    assert (g1["deleted"], g1["members"], g1["hidden_members"]) == (False, ["u1"], ["u2"])
    # The finish finds the groups with pending members through their partial index.
    query = {"tenant_id": TENANT, "object_type": "group", "deleted": False}
    plan = await db["inventory"].find({**query, "pending_members.0": {"$exists": True}}).explain()
    assert "pending_groups" in json.dumps(plan["queryPlanner"]["winningPlan"])
