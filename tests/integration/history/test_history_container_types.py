"""Directory roles and administrative units hold members as groups do (issue 20), through real
NATS and MongoDB: typed edges stored and announced on the role's own subject, a soft-deleted
member hidden in every container type and back on its restore, a never-seen member hidden at the
finish (its pending edges checked a container at a time, across types), a member a full round no
longer lists dropped; the counts API lists the types the tenant holds."""

import json
from typing import Any

import pytest
from entrasync_history.usecases import unknown_members
from entrasync_shared.messages import HistoryCountsQuery, InventoryCounts, ObservedObject
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names, ObjectType
from history_helpers import TENANT, Pipeline, Run, live_inventory, obj
from nats.aio.client import Client as NatsClient

TYPES: tuple[ObjectType, ...] = (
    "user",
    "group",
    "servicePrincipal",
    "directoryRole",
    "administrativeUnit",
)


def container(object_id: str, members: dict[str, str]) -> ObservedObject:
    """A container as a typed syncer sends it: members id → type code."""
    return ObservedObject(
        id=object_id,
        attributes={"displayName": object_id.upper()},
        members_added=tuple(members),
        members_added_types="".join(members.values()),
    )


def refs(members: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(r["type"], r["id"]) for r in members]


async def members_changed(pipeline: Pipeline, run_id: str) -> list[tuple[str, str, list, list]]:
    """(subject, object id, added refs, removed refs) of the run's members_changed events."""
    found = []
    for subject, _, data in await pipeline.stream_messages(pipeline.names.events_stream):
        event = json.loads(data)
        if event["type"].endswith(".members_changed") and event["data"]["run_id"] == run_id:
            data = event["data"]
            found.append(
                (
                    subject,
                    event["subject"],
                    refs(data["added_members"]),
                    refs(data["removed_members"]),
                )
            )
    return sorted(found)


async def full_scan(pipeline: Pipeline, role_members: dict[str, str]) -> Run:
    run = await Run(pipeline, "full", object_types=TYPES).start()
    await run.send("user", [obj("u1", displayName="U1"), obj("u2", displayName="U2")])
    await run.send("group", [container("g1", {"u1": "u"})])
    await run.send("servicePrincipal", [obj("s1", displayName="S1")])
    await run.send("directoryRole", [container("r1", role_members)])
    # u9 is listed (a soft-deleted user's edge outlives it) but no users round ever saw it.
    await run.send("administrativeUnit", [container("a1", {"u2": "u", "u9": "u"})])
    await run.finish()
    return run


async def delta_users(pipeline: Pipeline, **batch: Any) -> Run:
    run = await Run(pipeline, "delta", object_types=TYPES).start()
    await run.send("user", **batch)
    await run.finish()
    return run


async def test_roles_and_units_keep_their_members_as_groups_do(
    history: None,
    pipeline: Pipeline,
    db: Any,
    nc: NatsClient,
    names: Names,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(unknown_members, "GROUPS_PER_PASS", 1)  # page across container types
    role = names.directory_event(TENANT, "directoryRole", "members_changed")
    first = await full_scan(pipeline, {"u1": "u", "s1": "s", "g1": "g"})

    r1 = (await live_inventory(db, TENANT, "directoryRole"))["r1"]
    a1 = (await live_inventory(db, TENANT, "administrativeUnit"))["a1"]
    assert (r1["members"], r1["member_types"], r1["pending_members"]) == (
        ["g1", "s1", "u1"],
        {"g1": "group", "s1": "servicePrincipal"},
        [],
    )
    assert (a1["members"], a1["hidden_members"], a1["pending_members"]) == (["u2"], ["u9"], [])
    added = [("group", "g1"), ("servicePrincipal", "s1"), ("user", "u1")]
    assert (role, "r1", added, []) in await members_changed(pipeline, first.run_id)
    counts = await call(
        nc,
        names.api("history", "objects.counts"),
        HistoryCountsQuery(tenant_id=TENANT),
        InventoryCounts,
    )
    assert [(t.object_type, t.live) for t in counts.types] == [
        ("user", 2),
        ("group", 1),
        ("device", 0),
        ("servicePrincipal", 1),
        ("directoryRole", 1),
        ("administrativeUnit", 1),
    ]

    gone = await delta_users(pipeline, removals=[("u1", "changed")])
    r1 = (await live_inventory(db, TENANT, "directoryRole"))["r1"]
    assert (r1["members"], r1["hidden_members"]) == (["g1", "s1"], ["u1"])
    assert (role, "r1", [], [("user", "u1")]) in await members_changed(pipeline, gone.run_id)

    await delta_users(pipeline, objects=[obj("u1", displayName="U1")])
    r1 = (await live_inventory(db, TENANT, "directoryRole"))["r1"]
    assert (r1["members"], r1["hidden_members"]) == (["g1", "s1", "u1"], [])

    again = await full_scan(pipeline, {"u1": "u", "g1": "g"})
    r1 = (await live_inventory(db, TENANT, "directoryRole"))["r1"]
    assert r1["members"] == ["g1", "u1"]
    assert await members_changed(pipeline, again.run_id) == [
        (role, "r1", [], [("servicePrincipal", "s1")])
    ]
