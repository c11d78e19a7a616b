"""The safe-delete guardrail covers everything a refused sweep implies (its memberships too), and
a sweep reports its deletions as unseen, never as purges (issue 18, defects 1 and 2)."""

from dataclasses import replace
from datetime import timedelta

import pytest
from entrasync_history.domain.events import change_event
from entrasync_history.domain.model import Change, StoredObject, confirmation_key
from entrasync_history.domain.plans import (
    GuardrailPolicy,
    HeldBack,
    held_back_note,
    plan_batch,
    plan_reconciliation,
)
from entrasync_history.usecases.pipeline import (
    Context,
    apply_batch,
    record_finished,
    record_started,
)
from entrasync_shared.messages import SyncRecorded
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


def user(object_id: str) -> StoredObject:
    return StoredObject(TENANT, "user", object_id, T0, "r1", T0)


def group(object_id: str, members: set[str], confirmed: set[str], run_id: str) -> StoredObject:
    """A group a full run `run_id` saw, confirming only `confirmed` of its stored members."""
    return StoredObject(
        TENANT,
        "group",
        object_id,
        T0,
        run_id,
        T0,
        members=frozenset(members),
        confirmed_run=confirmation_key(run_id, 1),
        confirmed_members=frozenset(confirmed),
    )


def test_a_refused_sweep_keeps_its_unseen_objects_in_their_groups() -> None:
    g1 = group("g1", {"u1", "u2", "u3"}, {"u1"}, "r2")
    plan = plan_reconciliation(
        "r2", [], [g1], T0, drop_members={"group"}, held={"user": frozenset({"u2", "u9"})}
    )
    # u2 is one of the users the refused sweep would delete: it stays; u3 was seen by the run,
    # so the group round's word on it is a real removal.
    assert plan.changes == (Change("members_changed", "group", "g1", removed=("u3",)),)
    assert plan.writes[0].members == {"u1", "u2"}
    assert plan.held_back == {"group": {"user": HeldBack(removals=1, groups=1)}}


def test_without_a_refusal_unconfirmed_members_still_drop() -> None:
    g1 = group("g1", {"u1", "u2"}, {"u1"}, "r2")
    plan = plan_reconciliation(
        "r2", [], [g1], T0, drop_members={"group"}, held={"user": frozenset()}
    )
    assert plan.changes == (Change("members_changed", "group", "g1", removed=("u2",)),)
    assert plan.held_back == {}


def test_a_sweep_deletes_as_unseen_and_says_so_in_the_event() -> None:
    g1 = group("g1", {"u1", "u2"}, {"u1", "u2"}, "r2")
    plan = plan_reconciliation("r2", [user("u2")], [g1], T0, drop_members={"group"})
    assert plan.changes == (
        Change("members_changed", "group", "g1", removed=("u2",)),
        Change("deleted", "user", "u2", soft=None),
    )
    assert plan.writes[1].deletion == "unseen" and not plan.writes[1].live
    data = change_event(Names(), TENANT, "r2", plan.changes[1], T0).envelope.data
    assert data.model_dump() == {
        "tenant_id": TENANT,
        "object_type": "user",
        "object_id": "u2",
        "run_id": "r2",
        "soft": None,
        "reason": "not_seen_by_full_scan",
    }


@pytest.mark.parametrize(("reason", "soft"), [("changed", True), ("deleted", False)])
def test_graph_saying_later_how_an_unseen_object_went_is_published(reason: str, soft: bool) -> None:
    swept = replace(user("u2"), deleted_at=T0, deletion="unseen")
    removal = batch("r3", "user", 0, removals=[("u2", reason)], mode="delta")
    plan = plan_batch(removal, [swept], T0 + H)
    assert plan.changes == (Change("deleted", "user", "u2", soft=soft),)
    data = change_event(Names(), TENANT, "r3", plan.changes[0], T0).envelope.data
    assert (data.soft, data.reason) == (soft, "removed")


def test_the_held_back_note_names_the_numbers_the_type_and_the_way_out() -> None:
    note = held_back_note({"user": HeldBack(removals=1200, groups=93)})
    assert note.startswith("1200 membership removals in 93 groups held back by the safe-delete")
    assert "guardrail on user" in note and "guardrail.override" in note


# -- through the use cases, with fake ports ------------------------------------------------


@pytest.fixture
def store() -> FakeHistoryStore:
    return FakeHistoryStore()


@pytest.fixture
def events() -> FakeEventPublisher:
    return FakeEventPublisher()


@pytest.fixture
def ctx(store: FakeHistoryStore, events: FakeEventPublisher) -> Context:
    return Context(store, events, Names(), GuardrailPolicy(0.2, 10), finish_max_waits=3)


async def full_run(
    ctx: Context, run_id: str, at, users: list[str], groups: dict[str, list[str]]
) -> SyncRecorded:
    """A full run that sees `users` and lists each group with only the given members."""
    await record_started(ctx, started(run_id, at=at))
    seen = at + timedelta(seconds=1)
    user_batch = batch(run_id, "user", 0, [obj(u, name=u) for u in users], at=seen)
    group_batch = batch(run_id, "group", 0, [obj(g, m, name=g) for g, m in groups.items()], at=seen)
    for b in (user_batch, group_batch):
        await apply_batch(ctx, b, at)
    recorded = await record_finished(
        ctx, finished(run_id, {"user": 1, "group": 1}, started_at=at), 1, at
    )
    assert recorded is not None
    return recorded


def row(recorded: SyncRecorded, object_type: str):
    return next(t for t in recorded.types if t.object_type == object_type)


USERS = [f"u{i}" for i in range(10)]
GROUPS = {"g1": USERS[:6], "g2": USERS[6:]}


async def test_a_refused_user_sweep_holds_back_the_membership_removals_it_implies(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, USERS, GROUPS)
    events.take()
    # 6 of 10 users gone from the full scan and from the groups' full rounds; u2 is still seen
    # but really left g1.
    recorded = await full_run(ctx, "r2", T0 + H, USERS[:4], {"g1": ["u0", "u1", "u3"], "g2": []})
    published = [e.envelope.data for e in events.events if e.envelope.type.endswith("changed")]
    assert events.take() == [("members_changed", "g1"), ("recorded", "r2")]
    assert [(d.object_id, d.added, d.removed) for d in published] == [("g1", (), ("u2",))]
    assert all(store.objects[("user", u)].live for u in USERS)
    assert store.objects[("group", "g1")].members == {"u0", "u1", "u3", "u4", "u5"}
    assert store.objects[("group", "g2")].members == set(USERS[6:])
    users, groups = row(recorded, "user"), row(recorded, "group")
    assert (users.status, users.deleted) == ("Failed", 0)
    assert "6 of 10 live user objects" in (users.error or "")
    assert groups.status == "Failed" and groups.changed == 1
    assert (groups.error or "").startswith(
        "6 membership removals in 2 groups held back by the safe-delete guardrail on user"
    )
    assert recorded.status == "Failed"


async def test_an_override_releases_the_sweep_and_its_membership_removals_together(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, USERS, GROUPS)
    await full_run(ctx, "r2", T0 + H, USERS[:4], {"g1": USERS[:4], "g2": []})
    store.grant("user", "alice", T0 + H)
    events.take()
    recorded = await full_run(ctx, "r3", T0 + 2 * H, USERS[:4], {"g1": USERS[:4], "g2": []})
    deleted = {
        e.envelope.subject: e.envelope.data for e in events.events if "deleted" in e.envelope.type
    }
    assert sorted(deleted) == USERS[4:]
    assert {(d.soft, d.reason) for d in deleted.values()} == {(None, "not_seen_by_full_scan")}
    members = {
        e.envelope.subject: e.envelope.data.removed
        for e in events.events
        if e.envelope.type.endswith("members_changed")
    }
    assert members == {"g1": ("u4", "u5"), "g2": tuple(USERS[6:])}
    assert store.objects[("group", "g1")].members == set(USERS[:4])
    assert {store.objects[("user", u)].deletion for u in USERS[4:]} == {"unseen"}
    users, groups = row(recorded, "user"), row(recorded, "group")
    assert (users.status, users.deleted, users.guardrail_override) == ("Succeeded", 6, "alice")
    assert (groups.status, groups.changed, groups.error) == ("Succeeded", 2, None)


async def test_a_member_a_sweep_removed_comes_back_with_its_restore(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, USERS, {"g1": ["u0", "u1"]})
    # u1 was soft-deleted while no delta link existed: the full scan no longer sees it, yet
    # Graph still lists its edge (microsoft-graph-docs#7115). Soft or purged, nobody can tell.
    await full_run(ctx, "r2", T0 + H, USERS[:1] + USERS[2:], {"g1": ["u0", "u1"]})
    assert store.objects[("group", "g1")].members == {"u0"}
    events.take()
    # It is restored: a delta round lists it again, and nothing about the group (the edge never
    # left). Its membership must come back with it.
    await record_started(ctx, started("r3", mode="delta", at=T0 + 2 * H))
    back = batch("r3", "user", 0, [obj("u1", name="u1")], mode="delta", at=T0 + 2 * H)
    await apply_batch(ctx, back, T0 + 2 * H)
    assert store.objects[("group", "g1")].members == {"u0", "u1"}
    assert sorted(events.take()) == [("members_changed", "g1"), ("updated", "u1")]
