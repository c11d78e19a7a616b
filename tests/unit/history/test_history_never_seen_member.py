"""A user created and soft-deleted between two runs never reaches the inventory, but Graph keeps
its membership edges and lists them: history must still keep it out of its groups' members
(found by the randomised convergence test, issue 17.12)."""

from datetime import timedelta

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


# The same user met by a full scan instead (issue 17.5): its users round does not list it and
# sends no @removed, its groups round lists the edge (microsoft-graph-docs#7115).

DIRECTORY = ("created", "updated", "deleted", "members_changed")


def group(group_id: str, members: dict[str, str]) -> ObservedObject:
    """A group as a typed syncer sends it: members id → type code."""
    return ObservedObject(
        id=group_id,
        attributes={"displayName": group_id},
        members_added=tuple(members),
        members_added_types="".join(members.values()),
    )


async def full_run(
    ctx: Context, run_id: str, at, users: list, groups: list, devices_read: bool = True
) -> None:
    await record_started(ctx, started(run_id, at=at))
    await apply_batch(ctx, batch(run_id, "user", 0, users, at=at + S), at + S)
    await apply_batch(ctx, batch(run_id, "group", 0, groups, at=at + S), at + S)
    batches = {"user": 1, "group": 1, **({"device": 0} if devices_read else {})}
    done = finished(run_id, batches, started_at=at)  # type: ignore[arg-type]
    recorded = await record_finished(ctx, done, 1, at + 2 * S)
    assert recorded is not None and recorded.status == "Succeeded", recorded


def directory(events: FakeEventPublisher) -> list[str]:
    return [kind for kind, _ in events.take() if kind in DIRECTORY]


async def test_a_full_scan_hides_a_member_it_lists_but_never_saw_live() -> None:
    ctx, store, events = context()
    users = [obj("u1", displayName="U1")]
    await full_run(ctx, "r1", T0, users, [group("g1", {"u1": "u", "u2": "u"})])

    g1 = store.objects[("group", "g1")]
    assert (set(g1.members), set(g1.hidden_members)) == ({"u1"}, {"u2"})
    directory(events)

    await full_run(ctx, "r2", T0 + 10 * S, users, [group("g1", {"u1": "u", "u2": "u"})])
    assert directory(events) == [], "an unchanged full scan published"
    assert set(store.objects[("group", "g1")].members) == {"u1"}


async def test_a_hidden_member_comes_back_once_its_object_is_recorded() -> None:
    # Created after the users round read past it: unknown at the finish, live a run later.
    ctx, store, events = context()
    await full_run(ctx, "r1", T0, [], [group("g1", {"u2": "u"})])
    assert store.objects[("group", "g1")].members == frozenset()
    directory(events)

    users = batch("r2", "user", 0, [obj("u2", displayName="U2")], mode="delta", at=T0 + 10 * S)
    await apply_batch(ctx, users, T0 + 10 * S)

    assert set(store.objects[("group", "g1")].members) == {"u2"}
    assert sorted(directory(events)) == ["created", "members_changed"]


async def test_members_of_types_not_synced_or_not_read_in_full_stay_visible() -> None:
    # This full run read no service principals, contacts or devices: their edges stay visible.
    ctx, store, _ = context()
    members = {"s1": "s", "c1": "c", "d1": "d", "u9": "u"}
    await full_run(ctx, "r1", T0, [], [group("g1", members)], devices_read=False)

    assert set(store.objects[("group", "g1")].members) == {"s1", "c1", "d1"}


async def test_a_big_first_load_settles_live_pending_members_outside_the_finish_commit() -> None:
    # `make bench`: 20,000 groups, every edge pending after the first full load; writing them
    # all in the finish's transaction ran past MongoDB's limits (WriteConflict, retried forever).
    ctx, store, _ = context()
    written: list[str] = []
    commit_finish = store.commit_finish

    async def spy(recorded, writes, events=(), **more):  # type: ignore[no-untyped-def]
        written.extend(o.object_id for o in writes if o.object_type == "group")
        return await commit_finish(recorded, writes, events, **more)

    store.commit_finish = spy  # type: ignore[method-assign]
    users = [obj(f"u{n}", displayName=f"U{n}") for n in range(20)]
    groups = [group(f"g{n}", {f"u{n}": "u", f"u{n + 1}": "u"}) for n in range(19)]
    groups.append(group("g-unknown", {"u0": "u", "u-gone": "u"}))
    await full_run(ctx, "r1", T0, users, groups)

    assert written == ["g-unknown"]  # only the group whose change is published
    assert all(not o.pending_members for o in store.objects.values())
    assert set(store.objects[("group", "g-unknown")].hidden_members) == {"u-gone"}
