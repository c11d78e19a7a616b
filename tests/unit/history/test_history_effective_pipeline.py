"""history keeps effective membership with every commit (issue 20.4): a tenant's first finish
stores the closure and publishes its directory roles' holders as the baseline; from then on a
batch that changes edges publishes one `effective_changed` event per principal, with paths, and
stores the ancestors it changed, in the same commit."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.usecases.pipeline import (
    Context,
    apply_batch,
    record_finished,
    record_started,
)
from entrasync_shared.messages import (
    CloudEvent,
    EffectiveChanged,
    ObservedObject,
    SyncMode,
    SyncRecorded,
)
from entrasync_shared.subjects import Names, ObjectType
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
GA = "62e90394-69f5-4237-9190-012177145e10"  # Global Administrator's roleTemplateId
Round = tuple[ObjectType, Sequence[ObservedObject], Sequence[tuple[str, str]]]
Entry = tuple[str, str, str | None, tuple[str, ...]]


def context() -> tuple[Context, FakeHistoryStore, FakeEventPublisher]:
    store, events = FakeHistoryStore(), FakeEventPublisher()
    return Context(store, events, Names(), GuardrailPolicy(0.9, 10), 3), store, events


def named(
    object_id: str, members: Mapping[str, str] | None = None, **attributes: Any
) -> ObservedObject:
    """An object as a typed syncer sends it; `members` maps member ids to type codes."""
    members = members or {}
    return ObservedObject(
        id=object_id,
        attributes={"displayName": object_id.upper(), **attributes},
        members_added=tuple(members),
        members_added_types="".join(members.values()),
    )


def left(object_id: str, members: Mapping[str, str]) -> ObservedObject:
    return ObservedObject(
        id=object_id,
        attributes={},
        members_removed=tuple(members),
        members_removed_types="".join(members.values()),
    )


async def play(
    ctx: Context, run_id: str, mode: SyncMode, at: datetime, rounds: Sequence[Round]
) -> SyncRecorded:
    await record_started(ctx, started(run_id, mode, at=at))
    seqs: dict[ObjectType, int] = {}
    for object_type, objects, removals in rounds:
        seq = seqs.get(object_type, 0)
        seqs[object_type] = seq + 1
        await apply_batch(ctx, batch(run_id, object_type, seq, objects, removals, mode, at + S), at)
    recorded = await record_finished(ctx, finished(run_id, seqs, mode, at), 1, at + 2 * S)
    assert recorded is not None
    return recorded


def effective(events: FakeEventPublisher) -> list[tuple[str, str, list[Entry], list[Entry], bool]]:
    """(principal type, id, gained, lost, baseline) of each effective_changed, forgetting them;
    a membership as (container type, id, template, path)."""
    found = []
    for event in events.effective:
        data = CloudEvent[EffectiveChanged].model_validate(event.envelope.model_dump()).data
        subject = f"entrasync.directory.{TENANT}.{data.principal_type}.effective_changed"
        assert event.subject == subject
        assert (
            event.envelope.type == f"io.entrasync.directory.{data.principal_type}.effective_changed"
        )
        assert event.envelope.subject == data.principal_id
        found.append(
            (
                data.principal_type,
                data.principal_id,
                [
                    (m.container_type, m.container_id, m.role_template_id, m.path)
                    for m in data.gained
                ],
                [(m.container_type, m.container_id, m.role_template_id, m.path) for m in data.lost],
                data.baseline,
            )
        )
    events.effective = []
    return found


# A chain four groups deep under Global Administrator (the index takes any nesting; what Entra
# lets nest where is the simulator's to enforce, see tests/e2e/test_whole_directory.py).
CHAIN: list[Round] = [
    ("user", [named("u1"), named("u2"), named("u9")], []),
    (
        "group",
        [
            named("g1", {"g2": "g"}),
            named("g2", {"g3": "g"}),
            named("g3", {"g4": "g"}),
            named("g4", {"u1": "u"}),
            named("other", {"u1": "u", "u2": "u"}),
        ],
        [],
    ),
    ("directoryRole", [named("ga", {"g1": "g", "u2": "u"}, roleTemplateId=GA)], []),
]


async def test_the_first_finish_stores_the_closure_and_publishes_only_role_holders() -> None:
    ctx, store, events = context()
    await play(ctx, "r1", "full", T0, CHAIN)

    assert store.effective.built == {TENANT}
    assert store.effective.closure == {
        "g1": {"ga": ("ga",)},
        "g2": {"g1": ("g1",), "ga": ("ga", "g1")},
        "g3": {"g2": ("g2",), "g1": ("g1", "g2"), "ga": ("ga", "g1", "g2")},
        "g4": {"g3": ("g3",), "g2": ("g2", "g3"), "g1": ("g1", "g2", "g3"),
               "ga": ("ga", "g1", "g2", "g3")},
    }  # fmt: skip
    role = ("directoryRole", "ga", GA)
    assert effective(events) == [
        ("group", "g1", [(*role, ("ga",))], [], True),
        ("group", "g2", [(*role, ("ga", "g1"))], [], True),
        ("group", "g3", [(*role, ("ga", "g1", "g2"))], [], True),
        ("group", "g4", [(*role, ("ga", "g1", "g2", "g3"))], [], True),
        ("user", "u1", [(*role, ("ga", "g1", "g2", "g3", "g4"))], [], True),
        ("user", "u2", [(*role, ("ga",))], [], True),
    ]


async def test_batches_before_the_first_finish_publish_nothing_and_read_nothing() -> None:
    ctx, store, events = context()
    await record_started(ctx, started("r1", "full", at=T0))
    for seq, (object_type, objects, _) in enumerate(CHAIN):
        await apply_batch(ctx, batch("r1", object_type, seq, objects, (), "full", T0 + S), T0)
    assert events.effective == [] and store.effective.closure == {}
    assert store.effective.reads == 0


async def test_a_user_added_four_deep_gets_one_event_with_the_role_and_its_path() -> None:
    ctx, store, events = context()
    await play(ctx, "r1", "full", T0, CHAIN)
    effective(events)
    events.take()

    await play(ctx, "r2", "delta", T0 + 10 * S, [("group", [named("g4", {"u9": "u"})], [])])
    path = ("ga", "g1", "g2", "g3", "g4")
    gained: list[Entry] = [
        ("directoryRole", "ga", GA, path),
        ("group", "g1", None, path[1:]),
        ("group", "g2", None, path[2:]),
        ("group", "g3", None, path[3:]),
        ("group", "g4", None, path[4:]),
    ]
    assert effective(events) == [("user", "u9", gained, [], False)]
    assert store.effective.reads == 6  # the first computation's; a batch loads its reach only

    await play(ctx, "r3", "delta", T0 + 20 * S, [("group", [left("g4", {"u9": "u"})], [])])
    assert effective(events) == [("user", "u9", [], gained, False)]


async def test_a_soft_deleted_group_takes_its_members_out_and_its_restore_puts_them_back() -> None:
    ctx, store, events = context()
    await play(ctx, "r1", "full", T0, CHAIN)
    effective(events)

    await play(ctx, "r2", "delta", T0 + 10 * S, [("group", [], [("g2", "changed")])])
    found = {(p, tuple(c for _, c, _, _ in lost)) for _, p, _, lost, _ in effective(events)}
    assert found == {
        ("g2", ("ga", "g1")),
        ("g3", ("ga", "g1", "g2")),
        ("g4", ("ga", "g1", "g2")),
        ("u1", ("ga", "g1", "g2")),
    }
    assert store.effective.closure["g4"] == {"g3": ("g3",)}

    await play(ctx, "r3", "delta", T0 + 20 * S, [("group", [named("g2", {"g3": "g"})], [])])
    found = {(p, tuple(c for _, c, _, _ in gained)) for _, p, gained, _, _ in effective(events)}
    assert found == {
        ("g2", ("ga", "g1")),
        ("g3", ("ga", "g1", "g2")),
        ("g4", ("ga", "g1", "g2")),
        ("u1", ("ga", "g1", "g2")),
    }
    assert store.effective.closure["g4"]["ga"] == ("ga", "g1", "g2", "g3")


async def test_a_unit_member_is_in_the_unit_only() -> None:
    ctx, store, events = context()
    await play(ctx, "r1", "full", T0, [*CHAIN, ("administrativeUnit", [named("au")], [])])
    effective(events)

    units: list[Round] = [("administrativeUnit", [named("au", {"g4": "g"})], [])]
    await play(ctx, "r2", "delta", T0 + 10 * S, units)
    assert effective(events) == [
        ("group", "g4", [("administrativeUnit", "au", None, ("au",))], [], False)
    ]


async def test_the_same_batch_planned_again_after_a_crash_keeps_its_event_ids() -> None:
    ctx, store, events = context()
    await play(ctx, "r1", "full", T0, CHAIN)
    effective(events)
    await record_started(ctx, started("r2", "delta", at=T0 + 10 * S))
    change = batch("r2", "group", 0, [named("g4", {"u9": "u"})], (), "delta", T0 + 11 * S)
    commit = store.commit_batch
    planned: list[list[str]] = []

    async def crash(*args: Any, **kwargs: Any) -> Any:
        planned.append([e.msg_id for e in args[3] if e.subject.endswith("effective_changed")])
        raise ConnectionError("killed before the commit")

    store.commit_batch = crash  # type: ignore[method-assign]
    try:
        await apply_batch(ctx, change, T0 + 11 * S)
    except ConnectionError:
        pass
    store.commit_batch = commit  # type: ignore[method-assign]
    await apply_batch(ctx, change, T0 + 12 * S)
    assert [e.msg_id for e in events.effective] == planned[0] and len(planned[0]) == 1
