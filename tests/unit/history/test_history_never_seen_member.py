"""A user created and soft-deleted between two runs never reaches the inventory, but Graph keeps
its membership edges and lists them: history must still keep it out of its groups' members
(found by the randomised convergence test, issue 17.12)."""

from datetime import timedelta

from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.domain.services import Context, apply_batch
from entrasync_shared.subjects import Names
from history_fakes import T0, FakeEventPublisher, FakeHistoryStore, batch, obj

S = timedelta(seconds=1)


def context() -> tuple[Context, FakeHistoryStore, FakeEventPublisher]:
    store, events = FakeHistoryStore(), FakeEventPublisher()
    return Context(store, events, Names(), GuardrailPolicy(0.2, 10), 3), store, events


async def test_a_never_seen_soft_deleted_user_stays_out_of_the_group_that_lists_its_edge() -> None:
    ctx, store, events = context()
    await apply_batch(ctx, batch("r1", "group", 0, [obj("g1", name="G")], at=T0), T0)
    events.take()

    users = batch("r2", "user", 0, [obj("u1", name="U1")], [("u2", "changed")], "delta", T0 + S)
    await apply_batch(ctx, users, T0 + S)
    groups = batch("r2", "group", 0, [obj("g1", ["u1", "u2"])], mode="delta", at=T0 + 2 * S)
    await apply_batch(ctx, groups, T0 + 2 * S)

    assert set(store.objects[("group", "g1")].members) == {"u1"}
    assert [kind for kind, _ in events.kinds()] == ["created", "members_changed"]


async def test_a_never_seen_user_restored_later_is_created_for_consumers() -> None:
    ctx, store, events = context()
    gone = batch("r1", "user", 0, removals=[("u2", "changed")], mode="delta", at=T0)
    await apply_batch(ctx, gone, T0)
    assert events.kinds() == []

    back = batch("r2", "user", 0, [obj("u2", name="U2")], mode="delta", at=T0 + S)
    await apply_batch(ctx, back, T0 + S)

    assert [kind for kind, _ in events.kinds()] == ["created"]
    assert store.objects[("user", "u2")].live
