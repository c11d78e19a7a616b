from datetime import timedelta

import pytest
from entrasync_history.domain.plans import GuardrailPolicy
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
    FakeEventPublisher,
    FakeHistoryStore,
    batch,
    finished,
    obj,
    started,
)

H = timedelta(hours=1)


@pytest.fixture
def store() -> FakeHistoryStore:
    return FakeHistoryStore()


@pytest.fixture
def events() -> FakeEventPublisher:
    return FakeEventPublisher()


@pytest.fixture
def ctx(store: FakeHistoryStore, events: FakeEventPublisher) -> Context:
    return Context(store, events, Names(), GuardrailPolicy(0.2, 10), finish_max_waits=3)


async def full_run(ctx: Context, run_id: str, at, users: int, groups: dict[str, list[str]]):
    await record_started(ctx, started(run_id, at=at))
    users_batch = batch(run_id, "user", 0, [obj(f"u{i}", name=f"U{i}") for i in range(users)])
    groups_batch = batch(run_id, "group", 0, [obj(g, m, name=g) for g, m in groups.items()])
    for b in (users_batch, groups_batch):
        await apply_batch(ctx, b.model_copy(update={"at": at + timedelta(seconds=1)}), at)
    done = finished(run_id, {"user": 1, "group": 1}, started_at=at)
    recorded = await record_finished(ctx, done, 1, at)
    assert recorded is not None
    return recorded


def counts(recorded: SyncRecorded) -> dict[str, tuple[int, int]]:
    return {t.object_type: (t.changed, t.deleted) for t in recorded.types}


async def test_a_first_full_run_creates_everything_and_a_second_changes_nothing(
    ctx: Context, events: FakeEventPublisher
) -> None:
    first = await full_run(ctx, "r1", T0, 3, {"g1": ["u0", "u1"]})
    kinds = [k for k, _ in events.take()]
    assert kinds.count("created") == 4 and kinds.count("members_changed") == 1
    assert kinds[-1] == "recorded"
    assert counts(first) == {"user": (3, 0), "group": (1, 0)}
    second = await full_run(ctx, "r2", T0 + H, 3, {"g1": ["u0", "u1"]})
    assert [k for k, _ in events.take()] == ["recorded"]
    assert counts(second) == {"user": (0, 0), "group": (0, 0)}
    assert second.status == "Succeeded"


async def test_a_full_run_deletes_the_unseen_and_drops_unconfirmed_members(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, 3, {"g1": ["u0", "u1", "u2"], "g2": ["u2"]})
    events.take()
    recorded = await full_run(ctx, "r2", T0 + H, 2, {"g1": ["u1"], "g2": []})
    assert sorted(events.take()) == [
        ("deleted", "u2"),
        ("members_changed", "g1"),
        ("members_changed", "g2"),
        ("recorded", "r2"),
    ]
    assert not store.objects[("user", "u2")].live
    assert store.objects[("group", "g1")].members == {"u1"}
    assert store.objects[("group", "g2")].members == frozenset()
    assert counts(recorded) == {"user": (0, 1), "group": (2, 0)}


async def test_a_redelivered_batch_changes_nothing(
    ctx: Context, events: FakeEventPublisher
) -> None:
    b = batch("r1", "user", 0, [obj("u1", name="A")])
    assert await apply_batch(ctx, b, T0)
    assert not await apply_batch(ctx, b, T0)
    assert events.kinds() == [("created", "u1")]


async def test_a_finish_waits_for_its_batches_then_fails_the_type(
    ctx: Context, store: FakeHistoryStore
) -> None:
    await apply_batch(ctx, batch("r1", "user", 0, [obj("u1")]), T0)
    done = finished("r1", {"user": 2})
    assert await record_finished(ctx, done, 1, T0) is None
    recorded = await record_finished(ctx, done, 3, T0)
    assert recorded is not None and recorded.status == "Failed"
    assert recorded.types[0].error == "only 1 of 2 batches were applied"
    assert store.objects[("user", "u1")].live


async def test_the_guardrail_blocks_a_mass_delete(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, 10, {})
    events.take()
    recorded = await full_run(ctx, "r2", T0 + H, 7, {})
    assert events.kinds() == [("recorded", "r2")]
    user_row = recorded.types[0]
    assert user_row.status == "Failed" and "3 of 10" in (user_row.error or "")
    assert recorded.status == "Failed"
    assert sum(o.live for o in store.objects.values()) == 10


async def test_a_recorded_run_is_only_republished(ctx: Context, events: FakeEventPublisher) -> None:
    first = await full_run(ctx, "r1", T0, 1, {})
    again = await record_finished(ctx, finished("r1", {"user": 1, "group": 1}), 1, T0)
    assert again == first


async def test_an_override_lets_one_full_run_delete_past_the_guardrail(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, 10, {})
    tripped = await full_run(ctx, "r2", T0 + H, 5, {})
    assert tripped.types[0].status == "Failed"
    store.grant("user", "alice", T0 + H)
    events.take()
    through = await full_run(ctx, "r3", T0 + 2 * H, 5, {})
    assert sorted(k for k, _ in events.take()) == ["deleted"] * 5 + ["recorded"]
    user = through.types[0]
    assert (user.status, user.deleted, user.guardrail_override) == ("Succeeded", 5, "alice")
    assert store.overrides["user"].used_by_run == "r3"
    assert await store.active_overrides("tenant-1", T0 + 3 * H) == {}


async def test_an_expired_override_does_not_count(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, 10, {})
    store.grant("user", "alice", T0 - timedelta(days=2))
    recorded = await full_run(ctx, "r2", T0 + H, 5, {})
    assert recorded.types[0].status == "Failed" and recorded.types[0].guardrail_override is None


async def test_a_newer_start_cancels_a_run_still_running(
    ctx: Context, store: FakeHistoryStore
) -> None:
    await record_started(ctx, started("r1", at=T0))
    await record_started(ctx, started("r2", at=T0 + H))
    assert list(store.cancelled) == ["r1"]
    assert "r2" in store.cancelled["r1"]


async def test_a_straggler_batch_applies_but_is_not_counted(
    ctx: Context, store: FakeHistoryStore, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, 1, {})
    late = batch("r1", "user", 1, [obj("u9", name="late")])
    assert await apply_batch(ctx, late, T0)
    assert store.objects[("user", "u9")].live
    assert store.tallies[("r1", "user")].changed == 1
