"""history stores, diffs, announces and sweeps the whole directory's types (issue 20) as it does
users, groups and devices: directory roles and administrative units hold members as groups do
(hidden on a member's soft delete, back on its restore, dropped when a full round no longer lists
them, settled when pending), service principals and contacts are members like users, and each
type's deletions follow Graph's `@removed.reason`."""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from entrasync_history.adapters.documents import member_keys, object_document, stored_object
from entrasync_history.domain.model import StoredObject
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.usecases.pipeline import (
    Context,
    apply_batch,
    record_finished,
    record_started,
)
from entrasync_shared.messages import ObservedObject, SyncMode, SyncRecorded
from entrasync_shared.subjects import CONTAINER_TYPES, Names, ObjectType
from history_fakes import (
    T0,
    TENANT,
    FakeEventPublisher,
    FakeHistoryStore,
    batch,
    finished,
    started,
)

S = timedelta(seconds=1)
NEW_TYPES: tuple[ObjectType, ...] = (
    "servicePrincipal",
    "application",
    "directoryRole",
    "administrativeUnit",
    "orgContact",
)
Round = tuple[ObjectType, Sequence[ObservedObject], Sequence[tuple[str, str]]]


class Events(FakeEventPublisher):
    def directory(self) -> list[tuple[str, str, str]]:
        """(subject, type, object id) of the directory events so far, forgetting them."""
        found = [
            (e.subject, e.envelope.type, e.envelope.subject)
            for e in self.events
            if ".directory." in e.subject
        ]
        self.events = []
        return found

    def members(self) -> list[tuple[str, str, list[tuple[str, str]], list[tuple[str, str]]]]:
        """(type, id, added refs, removed refs) of each members_changed so far, forgetting all."""
        found = [
            (
                e.envelope.data.object_type,
                e.envelope.data.object_id,
                [(r.type, r.id) for r in e.envelope.data.added_members],
                [(r.type, r.id) for r in e.envelope.data.removed_members],
            )
            for e in self.events
            if e.subject.endswith(".members_changed")
        ]
        self.events = []
        return found


def context(policy: GuardrailPolicy | None = None) -> tuple[Context, FakeHistoryStore, Events]:
    store, events = FakeHistoryStore(), Events()
    return Context(store, events, Names(), policy or GuardrailPolicy(0.2, 10), 3), store, events


def named(object_id: str, members: Mapping[str, str] | None = None) -> ObservedObject:
    """An object as a typed syncer sends it; `members` maps member ids to type codes."""
    members = members or {}
    return ObservedObject(
        id=object_id,
        attributes={"displayName": object_id.upper()},
        members_added=tuple(members),
        members_added_types="".join(members.values()),
    )


def removed(object_id: str, members: Mapping[str, str]) -> ObservedObject:
    """A delta round's container whose `members` (id → code) left it."""
    return ObservedObject(
        id=object_id,
        attributes={},
        members_removed=tuple(members),
        members_removed_types="".join(members.values()),
    )


async def play(
    ctx: Context, run_id: str, mode: SyncMode, at: datetime, rounds: Sequence[Round]
) -> SyncRecorded:
    """One run: each round a batch of its type (a type without a round is not read)."""
    await record_started(ctx, started(run_id, mode, at=at))
    seqs: dict[ObjectType, int] = {}
    for object_type, objects, removals in rounds:
        seq = seqs.get(object_type, 0)
        seqs[object_type] = seq + 1
        part = batch(run_id, object_type, seq, objects, removals, mode, at + S)
        await apply_batch(ctx, part, at + S)
    recorded = await record_finished(ctx, finished(run_id, seqs, mode, at), 1, at + 2 * S)
    assert recorded is not None
    return recorded


def members(store: FakeHistoryStore, object_type: ObjectType, object_id: str) -> set[str]:
    return set(store.objects[(object_type, object_id)].members)


@pytest.mark.parametrize("container", ["directoryRole", "administrativeUnit"])
async def test_a_containers_member_soft_deleted_is_hidden_and_its_restore_brings_it_back(
    container: ObjectType,
) -> None:
    ctx, store, events = context()
    full: list[Round] = [
        ("user", [named("u1"), named("u2")], []),
        ("servicePrincipal", [named("s1")], []),
        (container, [named("c1", {"u1": "u", "u2": "u", "s1": "s"})], []),
    ]
    await play(ctx, "r1", "full", T0, full)
    assert members(store, container, "c1") == {"u1", "u2", "s1"}
    assert (container, "c1", [("servicePrincipal", "s1"), ("user", "u1"), ("user", "u2")], []) in (
        events.members()
    )

    await play(ctx, "r2", "delta", T0 + 10 * S, [("user", [], [("u1", "changed")])])
    assert members(store, container, "c1") == {"u2", "s1"}
    assert store.objects[(container, "c1")].hidden_members == {"u1"}
    assert events.members() == [(container, "c1", [], [("user", "u1")])]

    await play(ctx, "r3", "delta", T0 + 20 * S, [("user", [named("u1")], [])])
    assert members(store, container, "c1") == {"u1", "u2", "s1"}
    assert events.members() == [(container, "c1", [("user", "u1")], [])]


@pytest.mark.parametrize("container", CONTAINER_TYPES)
async def test_a_hard_deleted_member_leaves_every_container_type(container: ObjectType) -> None:
    ctx, store, events = context()
    rounds: list[Round] = [
        ("servicePrincipal", [named("s1")], []),
        (container, [named("c1", {"s1": "s"})], []),
    ]
    await play(ctx, "r1", "full", T0, rounds)
    events.members()

    await play(ctx, "r2", "delta", T0 + 10 * S, [("servicePrincipal", [], [("s1", "deleted")])])

    assert members(store, container, "c1") == set()
    assert store.objects[(container, "c1")].hidden_members == frozenset()
    assert events.members() == [(container, "c1", [], [("servicePrincipal", "s1")])]


async def test_a_service_principal_added_to_a_group_announces_members_changed() -> None:
    ctx, _, events = context()
    rounds: list[Round] = [("servicePrincipal", [named("s1")], []), ("group", [named("g1")], [])]
    await play(ctx, "r1", "full", T0, rounds)
    events.directory()

    added: list[Round] = [("group", [named("g1", {"s1": "s", "c1": "c"})], [])]
    await play(ctx, "r2", "delta", T0 + 10 * S, added)

    [(subject, kind, object_id)] = events.directory()
    assert (subject, kind, object_id) == (
        f"entrasync.directory.{TENANT}.group.members_changed",
        "io.entrasync.directory.group.members_changed",
        "g1",
    )


async def test_a_full_round_of_roles_drops_the_members_it_no_longer_lists() -> None:
    ctx, store, events = context()
    users: Round = ("user", [named("u1"), named("u2")], [])
    await play(ctx, "r1", "full", T0, [users, ("directoryRole", [named("r1", {"u1": "u"})], [])])
    # A delta round's word is lost (say, the role's link expired): the next full run re-reads it.
    store.objects[("directoryRole", "r1")] = _with_members(store, "directoryRole", "r1", {"u2"})
    events.members()

    roles: Round = ("directoryRole", [named("r1", {"u1": "u"})], [])
    await play(ctx, "r2", "full", T0 + 10 * S, [users, roles])

    assert members(store, "directoryRole", "r1") == {"u1"}
    assert events.members() == [("directoryRole", "r1", [], [("user", "u2")])]


def _with_members(
    store: FakeHistoryStore, object_type: ObjectType, object_id: str, extra: set[str]
) -> StoredObject:
    obj = store.objects[(object_type, object_id)]
    return replace(obj, members=obj.members | extra, revision=obj.revision + 1)


async def test_a_refused_user_sweep_holds_back_a_units_membership_removals_and_fails_its_row() -> (
    None
):
    ctx, store, _ = context(GuardrailPolicy(0.2, 2))
    users = [named(f"u{n}") for n in range(5)]
    unit = named("a1", {f"u{n}": "u" for n in range(5)})
    await play(ctx, "r1", "full", T0, [("user", users, []), ("administrativeUnit", [unit], [])])

    # Most users unseen (the guardrail refuses), and the unit no longer lists them either.
    few: list[Round] = [
        ("user", users[:1], []),
        ("administrativeUnit", [named("a1", {"u0": "u"})], []),
    ]
    recorded = await play(ctx, "r2", "full", T0 + 10 * S, few)

    rows = {t.object_type: t for t in recorded.types}
    assert rows["user"].status == "Failed"
    assert rows["administrativeUnit"].status == "Failed"
    assert "4 membership removals in 1 administrativeUnits held back" in (
        rows["administrativeUnit"].error or ""
    )
    assert members(store, "administrativeUnit", "a1") == {f"u{n}" for n in range(5)}


async def test_an_administrative_units_pending_members_settle_at_the_finish() -> None:
    ctx, store, events = context()
    # u2 is listed (its edge outlives a soft delete) but no users round ever saw it live.
    rounds: list[Round] = [
        ("user", [named("u1")], []),
        ("administrativeUnit", [named("a1", {"u1": "u", "u2": "u"})], []),
    ]
    await play(ctx, "r1", "full", T0, rounds)

    unit = store.objects[("administrativeUnit", "a1")]
    assert (set(unit.members), set(unit.hidden_members), unit.pending_members) == (
        {"u1"},
        {"u2"},
        frozenset(),
    )
    # The batch showed both edges; the finish, finding u2 not live, takes it back out.
    assert events.members() == [
        ("administrativeUnit", "a1", [("user", "u1"), ("user", "u2")], []),
        ("administrativeUnit", "a1", [], [("user", "u2")]),
    ]


async def test_a_never_seen_service_principal_a_group_lists_is_hidden_by_a_full_scan() -> None:
    ctx, store, _ = context()
    rounds: list[Round] = [
        ("servicePrincipal", [named("s1")], []),
        ("group", [named("g1", {"s1": "s", "s2": "s", "c1": "c"})], []),
        ("orgContact", [], []),
    ]
    await play(ctx, "r1", "full", T0, rounds)

    group = store.objects[("group", "g1")]
    assert (set(group.members), set(group.hidden_members)) == ({"s1"}, {"s2", "c1"})


async def test_a_role_member_unseen_by_a_full_scan_is_hidden_in_the_role() -> None:
    ctx, store, events = context()
    users = [named(f"u{n}") for n in range(10)]
    roles: Round = ("directoryRole", [named("r1", {"u0": "u", "u9": "u"})], [])
    await play(ctx, "r1", "full", T0, [("user", users, []), roles])
    events.members()

    await play(ctx, "r2", "full", T0 + 10 * S, [("user", users[:9], []), roles])

    role = store.objects[("directoryRole", "r1")]
    assert (set(role.members), set(role.hidden_members)) == ({"u0"}, {"u9"})
    assert events.members() == [("directoryRole", "r1", [], [("user", "u9")])]


@pytest.mark.parametrize("object_type", NEW_TYPES)
async def test_each_new_types_soft_delete_and_restore_and_purge_follow_graphs_reason(
    object_type: ObjectType,
) -> None:
    ctx, store, events = context()
    await play(ctx, "r1", "full", T0, [(object_type, [named("x1")], [])])
    assert events.directory() == [
        (
            f"entrasync.directory.{TENANT}.{object_type}.created",
            f"io.entrasync.directory.{object_type}.created",
            "x1",
        )
    ]

    await play(ctx, "r2", "delta", T0 + 10 * S, [(object_type, [], [("x1", "changed")])])
    [deleted] = [e.envelope.data for e in events.events if ".directory." in e.subject]
    assert (deleted.object_type, deleted.soft, deleted.reason) == (object_type, True, "removed")
    events.directory()

    await play(ctx, "r3", "delta", T0 + 20 * S, [(object_type, [named("x1")], [])])
    [restored] = [e.envelope.data for e in events.events if ".directory." in e.subject]
    assert (restored.object_type, restored.restored) == (object_type, True)
    events.directory()

    await play(ctx, "r4", "delta", T0 + 30 * S, [(object_type, [], [("x1", "deleted")])])
    [purged] = [e.envelope.data for e in events.events if ".directory." in e.subject]
    assert purged.soft is False
    assert store.objects[(object_type, "x1")].deletion == "hard"


@pytest.mark.parametrize("container", ["directoryRole", "administrativeUnit"])
def test_a_containers_document_keeps_its_member_types(container: ObjectType) -> None:
    role = StoredObject(
        TENANT,
        container,
        "c1",
        T0,
        "r1",
        T0,
        members=frozenset({"u1", "s1", "g1"}),
        member_types={"s1": "servicePrincipal", "g1": "group"},
    )
    back = stored_object(object_document(role, T0))
    assert back.typed_members() == {"g1": "group", "s1": "servicePrincipal", "u1": "user"}


async def test_a_member_removed_from_a_role_by_a_delta_round_is_announced() -> None:
    ctx, store, events = context()
    rounds: list[Round] = [
        ("servicePrincipal", [named("s1")], []),
        ("directoryRole", [named("r1", {"s1": "s"})], []),
    ]
    await play(ctx, "r1", "full", T0, rounds)
    events.members()

    gone: list[Round] = [("directoryRole", [removed("r1", {"s1": "s"})], [])]
    await play(ctx, "r2", "delta", T0 + 10 * S, gone)

    assert members(store, "directoryRole", "r1") == set()
    assert events.members() == [("directoryRole", "r1", [], [("servicePrincipal", "s1")])]


async def test_a_full_run_reading_no_service_principals_settles_their_edges_unchecked() -> None:
    # A tenant syncing users, groups and devices only: left pending, every container holding a
    # service principal or a contact would be read again at each finish.
    ctx, store, _ = context()
    everyone = {"u1": "u", "s1": "s", "c1": "c"}
    rounds: list[Round] = [("user", [named("u1")], []), ("group", [named("g1", everyone)], [])]
    await play(ctx, "r1", "full", T0, rounds)

    g1 = store.objects[("group", "g1")]
    assert (set(g1.members), g1.pending_members) == ({"u1", "s1", "c1"}, frozenset())

    # A delta run may read fewer types than the tenant syncs: it settles nothing unchecked.
    added: list[Round] = [("group", [named("g1", {"s2": "s"})], [])]
    await play(ctx, "r2", "delta", T0 + 10 * S, added)
    g1 = store.objects[("group", "g1")]
    assert (set(g1.members), g1.pending_members) == ({"u1", "s1", "c1", "s2"}, {"s2"})


def test_an_added_members_restorable_tombstone_is_looked_up_by_its_type_alone() -> None:
    # A big group's full round adds thousands of members per batch: one point lookup each (an
    # untyped member, from an older syncer: one per type a member can be, never an app's).
    assert member_keys("t", {"s1": "servicePrincipal"}) == ["t:servicePrincipal:s1"]
    assert member_keys("t", {"x": "unknown"}) == [
        "t:user:x",
        "t:group:x",
        "t:device:x",
        "t:servicePrincipal:x",
        "t:orgContact:x",
    ]


async def test_a_soft_deleted_service_principal_a_unit_lists_goes_aside() -> None:
    ctx, store, events = context()
    await play(ctx, "r1", "full", T0, [("servicePrincipal", [named("s1")], [])])
    await play(ctx, "r2", "delta", T0 + 10 * S, [("servicePrincipal", [], [("s1", "changed")])])
    events.members()

    listed: list[Round] = [("administrativeUnit", [named("a1", {"s1": "s"})], [])]
    await play(ctx, "r3", "delta", T0 + 20 * S, listed)

    unit = store.objects[("administrativeUnit", "a1")]
    assert (set(unit.members), set(unit.hidden_members)) == (set(), {"s1"})
    assert events.members() == []

    await play(ctx, "r4", "delta", T0 + 30 * S, [("servicePrincipal", [named("s1")], [])])
    assert members(store, "administrativeUnit", "a1") == {"s1"}
    assert events.members() == [("administrativeUnit", "a1", [("servicePrincipal", "s1")], [])]
