"""A soft-deleted group restored after a full run (issue 17.5 and 17.10, found by `make soak`):
it comes back whole and lists live members only, and its events describe exactly the change of
its visible membership, so replaying them gives its stored state."""

from datetime import datetime, timedelta

from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.usecases.pipeline import (
    Context,
    apply_batch,
    record_finished,
    record_started,
)
from entrasync_shared.messages import ObservedObject
from entrasync_shared.subjects import Names, ObjectType
from history_fakes import (
    T0,
    FakeEventPublisher,
    FakeHistoryStore,
    batch,
    finished,
    obj,
    started,
)

S = timedelta(seconds=1)


def context() -> tuple[Context, FakeHistoryStore, FakeEventPublisher]:
    store, events = FakeHistoryStore(), FakeEventPublisher()
    return Context(store, events, Names(), GuardrailPolicy(0.2, 10), 3), store, events


async def run(
    ctx: Context,
    run_id: str,
    at: datetime,
    rounds: dict[ObjectType, list[ObservedObject]],
    mode: str = "full",
) -> None:
    """One run reading users and groups (in that order, one batch each), then its finish."""
    await record_started(ctx, started(run_id, mode, at=at))  # type: ignore[arg-type]
    for object_type in ("user", "group"):
        objects = rounds.get(object_type, [])
        observed = batch(run_id, object_type, 0, objects, mode=mode, at=at + S)  # type: ignore[arg-type]
        await apply_batch(ctx, observed, at + S)
    done = finished(run_id, {"user": 1, "group": 1}, mode, started_at=at)  # type: ignore[arg-type]
    recorded = await record_finished(ctx, done, 1, at + 2 * S)
    assert recorded is not None and recorded.status == "Succeeded", recorded


def group(group_id: str, *users: str) -> ObservedObject:
    """A group as a typed syncer sends it, its members users."""
    return ObservedObject(
        id=group_id,
        attributes={"displayName": group_id},
        members_added=users,
        members_added_types="u" * len(users),
    )


def replayed_members(events: FakeEventPublisher, group_id: str) -> set[str]:
    """The group's members from its `members_changed` events alone."""
    members: set[str] = set()
    for event in events.events:
        data = event.envelope.data
        if event.envelope.type.endswith(".members_changed") and data.object_id == group_id:
            assert not set(data.added) & members, "a member added twice"
            assert set(data.removed) <= members, "an absent member removed"
            members = (members | set(data.added)) - set(data.removed)
    return members


async def test_a_restored_group_leaves_out_a_member_soft_deleted_that_no_round_listed() -> None:
    # u2 joins g1 after r1, then both are soft-deleted: the full run r2 lists neither, and the
    # delta round that brings g1 back lists its edge to u2 (Graph keeps soft-deleted members'
    # edges, microsoft-graph-docs#7115) while no users round ever lists u2.
    ctx, store, events = context()
    await run(ctx, "r1", T0, {"user": [obj("u1", displayName="U1")], "group": [group("g1")]})
    await run(ctx, "r2", T0 + 10 * S, {"user": [obj("u1", displayName="U1")]})
    assert not store.objects[("group", "g1")].live

    restored = group("g1", "u1", "u2")
    await run(ctx, "r3", T0 + 20 * S, {"group": [restored]}, mode="delta")

    g1 = store.objects[("group", "g1")]
    assert g1.live and set(g1.members) == {"u1"}
    assert replayed_members(events, "g1") == {"u1"}


async def test_a_restored_group_s_events_give_its_state_when_a_member_went_meanwhile() -> None:
    # g1 lists u1; a full run sees neither (both soft-deleted); g1 comes back, u1 does not: the
    # published membership was {u1}, the restored group's is empty, so an event removes u1.
    ctx, store, events = context()
    users = [obj("u1", displayName="U1")]
    await run(ctx, "r1", T0, {"user": users, "group": [group("g1", "u1")]})
    await run(ctx, "r2", T0 + 10 * S, {})
    assert set(store.objects[("group", "g1")].members) == {"u1"}, "a tombstone keeps its list"

    restored = group("g1", "u1")
    await run(ctx, "r3", T0 + 20 * S, {"group": [restored]}, mode="delta")

    g1 = store.objects[("group", "g1")]
    assert g1.live and g1.members == frozenset() and set(g1.hidden_members) == {"u1"}
    assert replayed_members(events, "g1") == set()


async def test_a_restored_member_shows_again_in_a_group_restored_before_it() -> None:
    # The rule's other half: the hidden edge comes back when its member is restored.
    ctx, store, events = context()
    users = [obj("u1", displayName="U1")]
    await run(ctx, "r1", T0, {"user": users, "group": [group("g1", "u1")]})
    await run(ctx, "r2", T0 + 10 * S, {})
    await run(ctx, "r3", T0 + 20 * S, {"group": [group("g1", "u1")]}, "delta")
    await run(ctx, "r4", T0 + 30 * S, {"user": users}, mode="delta")

    assert set(store.objects[("group", "g1")].members) == {"u1"}
    assert replayed_members(events, "g1") == {"u1"}
