"""history under Graph's documented habits (issue 17, points 1, 3, 5 and 10).

Graph omits null and never-set properties (user-delta.md); security groups are only ever
hard-deleted; a soft-deleted member keeps its edges and a full round may list them
(microsoft-graph-docs#7115); a restored object comes back like a new one.
"""

from datetime import timedelta

import pytest
from entrasync_history.domain.model import Change, StoredObject, diff, observe
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.usecases.pipeline import (
    Context,
    apply_batch,
    record_finished,
    record_started,
)
from entrasync_shared.messages import ObservedObject
from entrasync_shared.subjects import Names
from history_fakes import (
    T0,
    TENANT,
    FakeEventPublisher,
    FakeHistoryStore,
    batch,
    finished,
    obj,
    started,
)

H = timedelta(hours=1)


def stored(object_id: str, members: frozenset[str] = frozenset(), **attrs) -> StoredObject:
    return StoredObject(
        tenant_id=TENANT,
        object_type="group" if object_id.startswith("g") else "user",
        object_id=object_id,
        first_seen=T0,
        last_seen_run="r0",
        last_seen_at=T0,
        attributes=attrs,
        members=members,
    )


def seen(current, observed: ObservedObject, mode="delta", soft_deleted=frozenset()):
    return observe(
        current,
        observed,
        tenant_id=TENANT,
        object_type="group" if observed.id.startswith("g") else "user",
        run_id="r1",
        mode=mode,
        seen_at=T0 + H,
        now=T0,
        soft_deleted=soft_deleted,
    )


# -- point 1: a full round replaces, a delta round merges ------------------------------------


def test_a_full_round_replaces_the_attributes_so_an_omitted_one_is_cleared() -> None:
    before = stored("u1", displayName="Ann", jobTitle="Chief")

    after = seen(before, obj("u1", displayName="Ann"), mode="full")

    assert dict(after.attributes) == {"displayName": "Ann"}
    assert diff(before, after) == [Change("updated", "user", "u1", attributes={"jobTitle": None})]


def test_a_delta_round_merges_and_an_explicit_null_clears_without_storing_null() -> None:
    before = stored("u1", displayName="Ann", jobTitle="Chief", mail="a@x")

    after = seen(before, obj("u1", jobTitle=None))

    assert dict(after.attributes) == {"displayName": "Ann", "mail": "a@x"}
    assert diff(before, after) == [Change("updated", "user", "u1", attributes={"jobTitle": None})]


def test_a_stored_null_and_an_omitted_attribute_are_the_same_value() -> None:
    before = stored("u1", displayName="Ann", jobTitle=None)

    after = seen(before, obj("u1", displayName="Ann"), mode="full")

    assert diff(before, after) == []


def test_a_restored_object_comes_back_whole_even_in_a_delta_round() -> None:
    tombstone = stored("u1", displayName="Ann", jobTitle="Chief")
    tombstone = StoredObject(**{**tombstone.__dict__, "deletion": "soft", "deleted_at": T0})

    after = seen(tombstone, obj("u1", displayName="Ann"))

    assert after.live and dict(after.attributes) == {"displayName": "Ann"}


# -- point 10: a restored group's membership is replaced, not merged -------------------------


def test_a_restored_group_gets_the_membership_it_comes_back_with() -> None:
    tombstone = stored("g1", frozenset({"u1", "u2"}), displayName="Team")
    tombstone = StoredObject(**{**tombstone.__dict__, "deletion": "soft", "deleted_at": T0})

    after = seen(tombstone, obj("g1", ["u2", "u3"], displayName="Team"))

    assert after.members == {"u2", "u3"}
    assert diff(tombstone, after)[-1] == Change(
        "members_changed", "group", "g1", added=("u3",), removed=("u1",)
    )


# -- through the use cases --------------------------------------------------------------------


@pytest.fixture
def store() -> FakeHistoryStore:
    return FakeHistoryStore()


@pytest.fixture
def events() -> FakeEventPublisher:
    return FakeEventPublisher()


@pytest.fixture
def ctx(store: FakeHistoryStore, events: FakeEventPublisher) -> Context:
    return Context(store, events, Names(), GuardrailPolicy(0.9, 10), finish_max_waits=3)


async def full_run(ctx: Context, run_id: str, at, users: list, groups: list) -> None:
    await record_started(ctx, started(run_id, at=at))
    for b in (batch(run_id, "user", 0, users), batch(run_id, "group", 0, groups)):
        await apply_batch(ctx, b.model_copy(update={"at": at + timedelta(seconds=1)}), at)
    recorded = await record_finished(
        ctx, finished(run_id, {"user": 1, "group": 1}, started_at=at), 1, at
    )
    assert recorded is not None and recorded.status == "Succeeded", recorded


async def delta(ctx: Context, run_id: str, at, object_type, objects=(), removals=()) -> None:
    b = batch(run_id, object_type, 0, objects, removals, mode="delta", at=at)
    await apply_batch(ctx, b, at)


USERS = [obj("u1", displayName="A"), obj("u2", displayName="B"), obj("u3", displayName="C")]


async def test_a_full_scan_clears_an_attribute_cleared_while_no_delta_link_existed(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    first = [obj("u1", displayName="A", jobTitle="Chief"), *USERS[1:]]
    await full_run(ctx, "r1", T0, first, [])
    events.take()

    await full_run(ctx, "r2", T0 + H, USERS, [])

    assert "jobTitle" not in store.objects[("user", "u1")].attributes
    assert events.take() == [("updated", "u1"), ("recorded", "r2")]


async def test_a_soft_deleted_member_leaves_the_list_and_a_full_scan_of_it_publishes_nothing(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    groups = [obj("g1", ["u1", "u2"], displayName="G")]
    await full_run(ctx, "r1", T0, USERS, groups)
    events.take()

    await delta(ctx, "r2", T0 + H, "user", removals=[("u1", "changed")])
    after_soft_delete = store.objects[("group", "g1")]
    soft_delete_events = events.take()
    # Graph still lists the soft-deleted member's edge in a full round (docs#7115).
    await full_run(ctx, "r3", T0 + 2 * H, USERS[1:], groups)
    unchanged_scan_events = events.take()

    assert after_soft_delete.members == {"u2"}
    assert after_soft_delete.hidden_members == {"u1"}
    assert sorted(soft_delete_events) == [("deleted", "u1"), ("members_changed", "g1")]
    assert unchanged_scan_events == [("recorded", "r3")]
    assert store.objects[("group", "g1")].members == {"u2"}


async def test_a_restored_member_gets_its_edges_back_without_a_group_change(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, USERS, [obj("g1", ["u1", "u2"], displayName="G")])
    await delta(ctx, "r2", T0 + H, "user", removals=[("u1", "changed")])
    events.take()

    # Graph's groups delta reports nothing on restore: the edge never left.
    await delta(ctx, "r3", T0 + 2 * H, "user", [obj("u1", displayName="A")])

    assert store.objects[("group", "g1")].members == {"u1", "u2"}
    assert store.objects[("group", "g1")].hidden_members == frozenset()
    assert sorted(events.take()) == [("members_changed", "g1"), ("updated", "u1")]


async def test_a_member_added_while_soft_deleted_is_kept_aside_until_restored(
    ctx: Context, store: FakeHistoryStore
) -> None:
    await full_run(ctx, "r1", T0, USERS, [obj("g1", ["u2"], displayName="G")])
    await delta(ctx, "r2", T0 + H, "user", removals=[("u1", "changed")])

    await delta(ctx, "r3", T0 + 2 * H, "group", [obj("g1", ["u1"])])

    assert store.objects[("group", "g1")].members == {"u2"}
    assert store.objects[("group", "g1")].hidden_members == {"u1"}


async def test_a_hard_deleted_security_group_is_deleted_for_good_and_leaves_its_groups(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    groups = [obj("g1", ["g2", "u1"], displayName="Outer"), obj("g2", ["u2"], displayName="Sec")]
    await full_run(ctx, "r1", T0, USERS, groups)
    events.take()

    await delta(ctx, "r2", T0 + H, "group", removals=[("g2", "deleted")])

    assert store.objects[("group", "g2")].deletion == "hard"
    assert store.objects[("group", "g1")].members == {"u1"}
    data = {e.envelope.type.rsplit(".", 1)[1]: e.envelope.data for e in events.events}
    assert sorted(data) == ["deleted", "members_changed"]
    assert data["deleted"].soft is False
    assert list(data["members_changed"].removed) == ["g2"]


async def test_a_group_restored_after_a_membership_change_comes_back_whole(
    ctx: Context, store: FakeHistoryStore
) -> None:
    await full_run(ctx, "r1", T0, USERS, [obj("g1", ["u1", "u2"], displayName="M365")])
    await delta(ctx, "r2", T0 + H, "group", removals=[("g1", "changed")])

    # One window: u1 left, u3 joined, the group was soft-deleted and restored: Graph lists it
    # like a new group, with its whole membership as additions.
    await delta(ctx, "r3", T0 + 2 * H, "group", [obj("g1", ["u2", "u3"], displayName="M365")])

    assert store.objects[("group", "g1")].live
    assert store.objects[("group", "g1")].members == {"u2", "u3"}


async def test_a_member_unseen_by_a_full_scan_but_still_listed_stays_out_of_the_list(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    groups = [obj("g1", ["u1", "u2"], displayName="G")]
    await full_run(ctx, "r1", T0, USERS, groups)
    # u1 was soft-deleted while no delta link existed: the scan no longer sees it, yet Graph
    # still lists its edge (docs#7115).
    await full_run(ctx, "r2", T0 + H, USERS[1:], groups)
    events.take()

    await full_run(ctx, "r3", T0 + 2 * H, USERS[1:], groups)

    assert events.take() == [("recorded", "r3")]
    assert store.objects[("group", "g1")].members == {"u2"}
    assert store.objects[("group", "g1")].hidden_members == {"u1"}
