"""A late batch never overwrites newer state, and a change has one event id however often it
reaches history (issue 17, points 9 and 11)."""

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from entrasync_history.domain.model import StoredObject
from entrasync_history.domain.plans import GuardrailPolicy, Tally
from entrasync_history.domain.positions import Position, batch_position, fresh_part
from entrasync_history.usecases.pipeline import (
    Context,
    apply_batch,
    record_finished,
    record_started,
)
from entrasync_shared.messages import ObservationBatch, ObservedObject, SyncMode
from entrasync_shared.subjects import Names, ObjectType
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

M = timedelta(minutes=1)


def placed(
    run_id: str,
    object_type: ObjectType,
    seq: int,
    started_at: datetime,
    objects: Iterable[ObservedObject] = (),
    removals: Iterable[tuple[str, str]] = (),
    mode: SyncMode = "delta",
    attempt: int = 1,
) -> ObservationBatch:
    """A batch of attempt `attempt` of a run whose attempt started at `started_at`."""
    made = batch(run_id, object_type, seq, objects, removals, mode, at=started_at + seq * M)
    suffix = f":a{attempt}" if attempt > 1 else ""
    return made.model_copy(
        update={"id": made.id + suffix, "attempt": attempt, "started_at": started_at}
    )


@pytest.fixture
def store() -> FakeHistoryStore:
    return FakeHistoryStore()


@pytest.fixture
def events() -> FakeEventPublisher:
    return FakeEventPublisher()


@pytest.fixture
def ctx(store: FakeHistoryStore, events: FakeEventPublisher) -> Context:
    return Context(store, events, Names(), GuardrailPolicy(0.2, 10), finish_max_waits=3)


def stored_at(position: Position, object_id: str, **attributes: object) -> StoredObject:
    kind: ObjectType = "group" if object_id.startswith("g") else "user"
    return StoredObject(
        TENANT, kind, object_id, T0, "r", T0, attributes=attributes, position=position
    )


# -- the ordering decision ----------------------------------------------------------------------


def test_positions_order_attempts_by_their_start_then_batches_by_seq() -> None:
    run1 = placed("r1", "user", 7, T0)
    retry = placed("r1", "user", 0, T0 + 5 * M, attempt=2)
    later_run = placed("r2", "user", 0, T0 + 10 * M)
    assert batch_position(run1) < batch_position(retry) < batch_position(later_run)
    assert batch_position(placed("r1", "user", 3, T0)) < batch_position(run1)


def test_a_batch_older_than_the_stored_objects_is_stale_for_them_only() -> None:
    late = placed("r1", "user", 0, T0, [obj("u1", name="old"), obj("u2", name="new")])
    newer = batch_position(placed("r2", "user", 0, T0 + 10 * M))
    assert newer is not None
    fresh = fresh_part(late, {"u1": stored_at(newer, "u1", name="newer")})
    assert [o.id for o in fresh.objects] == ["u2"]


def test_a_late_removal_does_not_delete_an_object_seen_since() -> None:
    late = placed("r1", "user", 0, T0, removals=[("u1", "changed"), ("u2", "deleted")])
    newer = batch_position(placed("r2", "user", 0, T0 + 10 * M))
    assert newer is not None
    fresh = fresh_part(late, {"u1": stored_at(newer, "u1")})
    assert [r.id for r in fresh.removals] == ["u2"]


def test_an_earlier_piece_of_the_same_attempt_brings_its_members_not_its_attributes() -> None:
    piece = placed("r1", "group", 3, T0, [obj("g1", ["u1", "u2"], name="older")])
    later_piece = batch_position(placed("r1", "group", 4, T0))
    assert later_piece is not None
    fresh = fresh_part(piece, {"g1": stored_at(later_piece, "g1", name="newer")})
    assert [(o.members_added, o.attributes) for o in fresh.objects] == [
        (("u1", "u2"), {"name": "newer"})
    ]
    gone = replace(stored_at(later_piece, "g1"), deletion="hard", deleted_at=T0)
    assert fresh_part(piece, {"g1": gone}).objects == ()


def test_batches_without_a_position_apply_as_before() -> None:
    old_syncer = batch("r1", "user", 0, [obj("u1", name="x")])
    newer = batch_position(placed("r2", "user", 0, T0 + 10 * M))
    assert newer is not None
    assert fresh_part(old_syncer, {"u1": stored_at(newer, "u1")}) is old_syncer


# -- through apply_batch ------------------------------------------------------------------------


async def test_a_stale_batch_counts_as_applied_changes_nothing_and_publishes_nothing(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await apply_batch(ctx, placed("r0", "user", 0, T0, [obj("u1", title="a")], mode="full"), T0)
    await apply_batch(
        ctx, placed("r0", "group", 0, T0, [obj("g1", ["u1"], n="g")], mode="full"), T0
    )
    events.take()
    # B1 (older) reads title b and u1 leaving g1; history dies with it in flight. B2 (newer)
    # reads title c and u1 back in g1, and is applied first.
    b1 = placed("r1", "user", 0, T0 + M, [obj("u1", title="b")])
    b1_groups = placed("r1", "group", 0, T0 + M, [ObservedObject(id="g1", members_removed=("u1",))])
    b2 = placed("r1", "user", 0, T0 + 2 * M, [obj("u1", title="c")], attempt=2)
    b2_groups = placed(
        "r1", "group", 0, T0 + 2 * M, [ObservedObject(id="g1", members_added=("u1",))], attempt=2
    )
    assert await apply_batch(ctx, b2, T0 + 3 * M)
    assert await apply_batch(ctx, b2_groups, T0 + 3 * M)
    assert events.take() == [("updated", "u1")]
    assert await apply_batch(ctx, b1, T0 + 4 * M)
    assert await apply_batch(ctx, b1_groups, T0 + 4 * M)
    assert store.objects[("user", "u1")].attributes == {"title": "c"}
    assert store.objects[("group", "g1")].members == {"u1"}
    assert events.take() == []
    assert b1.id in store.applied and b1_groups.id in store.applied
    assert store.tallies[("r1", "user")] == Tally(changed=1)


async def test_a_late_batch_of_an_earlier_run_does_not_bring_back_what_a_full_scan_swept(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await apply_batch(ctx, placed("r0", "user", 0, T0, [obj("u1", t="a")], mode="full"), T0)
    late = placed("r1", "user", 0, T0 + M, [obj("u1", t="b")])
    await record_started(ctx, started("r2", at=T0 + 2 * M))
    empty = placed("r2", "user", 0, T0 + 2 * M, [obj("u2", t="x")], mode="full")
    await apply_batch(ctx, empty, T0 + 2 * M)
    done = finished("r2", {"user": 1}, started_at=T0 + 2 * M)
    assert await record_finished(ctx, done, 1, T0 + 3 * M) is not None
    assert not store.objects[("user", "u1")].live
    events.take()
    await apply_batch(ctx, late, T0 + 4 * M)
    assert not store.objects[("user", "u1")].live
    assert events.take() == []


# -- event ids ------------------------------------------------------------------------------------


class CrashingStore(FakeHistoryStore):
    """Dies once between publishing a batch's events and committing it."""

    def __init__(self) -> None:
        super().__init__()
        self.crash = False

    async def commit_batch(self, *args: Any, **kwargs: Any) -> Any:
        if self.crash:
            self.crash = False
            raise ConnectionError("killed")
        return await super().commit_batch(*args, **kwargs)


def published_ids(events: FakeEventPublisher) -> list[str]:
    return [e.msg_id for e in events.events]


async def test_the_same_change_through_two_attempts_is_one_event() -> None:
    store, events = CrashingStore(), FakeEventPublisher()
    ctx = Context(store, events, Names(), GuardrailPolicy(0.2, 10), finish_max_waits=3)
    users = [obj(f"u{i}", name=f"U{i}") for i in range(3)]
    store.crash = True
    with pytest.raises(ConnectionError):
        await apply_batch(ctx, placed("r1", "user", 0, T0, users, mode="full"), T0)
    # The retried attempt covers the same users first; then the first copy comes back.
    retry = placed("r1", "user", 0, T0 + M, users, mode="full", attempt=2)
    assert await apply_batch(ctx, retry, T0 + M)
    first = published_ids(events)
    assert await apply_batch(ctx, placed("r1", "user", 0, T0, users, mode="full"), T0 + 2 * M)
    assert published_ids(events) == first
    assert events.take() == [("created", "u0"), ("created", "u1"), ("created", "u2")]


async def test_the_same_update_redelivered_after_a_crash_keeps_its_id(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await apply_batch(ctx, placed("r0", "user", 0, T0, [obj("u1", t="a")], mode="full"), T0)
    crashing = CrashingStore()
    crashing.objects = dict(store.objects)
    crashing.crash = True
    ctx = replace(ctx, store=crashing)
    update = placed("r1", "user", 0, T0 + M, [obj("u1", t="b")])
    with pytest.raises(ConnectionError):
        await apply_batch(ctx, update, T0 + M)
    assert await apply_batch(ctx, update.model_copy(update={"id": "other-copy"}), T0 + M)
    assert events.take() == [("created", "u1"), ("updated", "u1")]


async def test_a_change_that_really_happens_again_is_a_new_event(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await apply_batch(
        ctx, placed("r0", "group", 0, T0, [obj("g1", ["u1"], n="g")], mode="full"), T0
    )
    out = [ObservedObject(id="g1", members_removed=("u1",))]
    back = [ObservedObject(id="g1", members_added=("u1",))]
    await apply_batch(ctx, placed("r1", "group", 0, T0 + M, out), T0 + M)
    await apply_batch(ctx, placed("r1", "group", 1, T0 + M, back), T0 + M)
    await apply_batch(ctx, placed("r2", "group", 0, T0 + 2 * M, out), T0 + 2 * M)
    await apply_batch(ctx, placed("r2", "group", 1, T0 + 2 * M, back), T0 + 2 * M)
    # Created with its members, then out, back, out, back: each its own event.
    assert len(set(published_ids(events))) == 6
    assert events.take()[2:] == [("members_changed", "g1")] * 4
    assert store.objects[("group", "g1")].revision == 5
