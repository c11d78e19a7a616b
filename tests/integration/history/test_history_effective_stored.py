"""Effective membership through real NATS and MongoDB (issue 20.4): the first finish stores the
closure (`effective_ancestors`) and publishes the role holders as the baseline; a user added to a
group nested four deep under a directory role gets exactly one effective_changed event naming
the role and the path, and its removal the loss; the API answers who holds the role and what the
user is in, with paths, from what is stored."""

from typing import Any

from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_shared.messages import (
    EffectiveMembers,
    EffectiveMemberships,
    EffectiveMembershipsQuery,
    EffectiveMembersQuery,
    ObservedObject,
    PrivilegedRoles,
    PrivilegedRolesQuery,
)
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names, ObjectType
from history_helpers import TENANT, Pipeline, Run, obj
from nats.aio.client import Client as NatsClient

TYPES: tuple[ObjectType, ...] = ("user", "group", "directoryRole")
GA = "62e90394-69f5-4237-9190-012177145e10"
PATH = ["ga", "g1", "g2", "g3", "g4"]


def container(object_id: str, members: dict[str, str], **attributes: Any) -> ObservedObject:
    return ObservedObject(
        id=object_id,
        attributes={"displayName": object_id.upper(), **attributes},
        members_added=tuple(members),
        members_added_types="".join(members.values()),
    )


def changes(event: dict[str, Any], side: str) -> list[tuple[str, str, Any, list[str]]]:
    return [
        (m["container_type"], m["container_id"], m["role_template_id"], m["path"])
        for m in event["data"][side]
    ]


async def test_a_user_added_four_deep_under_a_role_is_one_event_and_the_api_shows_it(
    history: None, pipeline: Pipeline, db: Any, nc: NatsClient, names: Names
) -> None:
    first = await Run(pipeline, "full", object_types=TYPES).start()
    await first.send("user", [obj(u, displayName=u.upper()) for u in ("u1", "u2", "u9")])
    await first.send(
        "group",
        [
            container("g1", {"g2": "g"}),
            container("g2", {"g3": "g"}),
            container("g3", {"g4": "g"}),
            container("g4", {"u1": "u"}),
        ],
    )
    await first.send("directoryRole", [container("ga", {"g1": "g", "u2": "u"}, roleTemplateId=GA)])
    await first.finish()

    baseline = await pipeline.effective_events(first.run_id)
    assert [(e["data"]["principal_id"], e["data"]["baseline"]) for e in baseline] == [
        ("g1", True),
        ("g2", True),
        ("g3", True),
        ("g4", True),
        ("u1", True),
        ("u2", True),
    ]
    stored = {d["group_id"]: d async for d in db["effective_ancestors"].find({"tenant_id": TENANT})}
    assert sorted(stored) == ["g1", "g2", "g3", "g4"]
    assert {u["id"]: u["path"] for u in stored["g4"]["up"]}["ga"] == PATH[:-1]
    assert {u["id"]: u["type"] for u in stored["g1"]["up"]} == {"ga": "directoryRole"}

    added = await Run(pipeline, "delta", object_types=TYPES).start()
    await added.send("group", [container("g4", {"u9": "u"})])
    await added.finish()
    [event] = await pipeline.effective_events(added.run_id)
    gained = [
        ("directoryRole", "ga", GA, PATH),
        ("group", "g1", None, PATH[1:]),
        ("group", "g2", None, PATH[2:]),
        ("group", "g3", None, PATH[3:]),
        ("group", "g4", None, PATH[4:]),
    ]
    assert event["type"] == "io.entrasync.directory.user.effective_changed"
    assert event["subject"] == "u9"
    assert (changes(event, "gained"), changes(event, "lost")) == (gained, [])
    subjects = [s for s, _, _ in await pipeline.stream_messages(names.events_stream)]
    assert names.effective_changed(TENANT, "user") in subjects

    roles = await call(
        nc,
        names.api("history", "privileged.roles"),
        PrivilegedRolesQuery(tenant_id=TENANT),
        PrivilegedRoles,
    )
    [role] = roles.items
    assert (role.display_name, role.role_template_id) == ("GA", GA)
    assert [m.id for m in role.direct_members] == ["g1", "u2"]
    holders = {m.id: (m.type, m.display_name, list(m.path)) for m in role.effective_members}
    assert holders["u9"] == ("user", "U9", PATH)
    assert roles.names["g4"] == "G4"
    mine = await call(
        nc,
        names.api("history", "effective.memberships"),
        EffectiveMembershipsQuery(tenant_id=TENANT, principal_id="u9"),
        EffectiveMemberships,
    )
    assert [(m.container.id, list(m.path)) for m in mine.items][0] == ("ga", PATH)
    below = await call(
        nc,
        names.api("history", "effective.members"),
        EffectiveMembersQuery(tenant_id=TENANT, container_id="g2"),
        EffectiveMembers,
    )
    assert [(m.id, list(m.path)) for m in below.items] == [
        ("g3", ["g2"]),
        ("g4", ["g2", "g3"]),
        ("u1", ["g2", "g3", "g4"]),
        ("u9", ["g2", "g3", "g4"]),
    ]

    removed = await Run(pipeline, "delta", object_types=TYPES).start()
    await removed.send(
        "group",
        [
            ObservedObject(
                id="g4", attributes={}, members_removed=("u9",), members_removed_types="u"
            )
        ],
    )
    await removed.finish()
    [loss] = await pipeline.effective_events(removed.run_id)
    assert (loss["subject"], changes(loss, "gained"), changes(loss, "lost")) == ("u9", [], gained)


async def test_a_purged_tenant_loses_its_closure(
    history: None, pipeline: Pipeline, db: Any, store: MongoHistoryStore
) -> None:
    run = await Run(pipeline, "full", object_types=TYPES).start()
    await run.send("user", [obj("u1", displayName="U1")])
    await run.send("group", [container("g1", {"g2": "g"}), container("g2", {"u1": "u"})])
    await run.send("directoryRole", [container("ga", {"u1": "u"}, roleTemplateId=GA)])
    await run.finish()
    mine = {"tenant_id": TENANT}
    assert await db["effective_ancestors"].count_documents(mine) == 1
    assert await db["effective_state"].count_documents(mine) == 1

    removed = await store.purge_tenant(TENANT)
    assert (removed["effective_ancestors"], removed["effective_state"]) == (1, 1)
    assert await db["effective_ancestors"].count_documents(mine) == 0
