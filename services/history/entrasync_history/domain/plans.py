"""Pure decisions over a set of loaded objects: what a batch or a run's finish changes.

Both planners fold every rule over an in-memory working set first and diff at the end, so each
object yields at most one event per kind per batch (or finish), whatever the order of entries.
Membership rules apply to every container type (`CONTAINER_TYPES`), called groups here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from entrasync_shared.members import MemberType, member_type
from entrasync_shared.messages import (
    ObservationBatch,
    RunStatus,
    SyncFinished,
    TypeCounts,
    TypeResult,
)
from entrasync_shared.subjects import CONTAINER_TYPES, ObjectType

from entrasync_history.domain.model import (
    Change,
    Deletion,
    StoredObject,
    diff,
    drop_unconfirmed_members,
    hide_members,
    hide_unknown_members,
    leave_containers,
    mark_counted,
    observe,
    remove,
    reveal_members,
)
from entrasync_history.domain.positions import Position, batch_position, newest

Key = tuple[ObjectType, str]


@dataclass
class Tally:
    """Objects newly counted as changed / deleted in a run."""

    changed: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class HeldBack:
    """Membership removals a refused deletion sweep of one type holds back with it, in how many
    containers (`groups`) of one type."""

    removals: int = 0
    groups: int = 0


@dataclass(frozen=True)
class Plan:
    """Changes to publish, then objects to write, then per-type counts to add to the rows.

    `held_back` counts, per container type and refused type, the membership removals kept back
    with that type's sweep.
    """

    changes: tuple[Change, ...]
    writes: tuple[StoredObject, ...]
    tallies: Mapping[ObjectType, Tally] = field(default_factory=dict)
    held_back: Mapping[ObjectType, Mapping[ObjectType, HeldBack]] = field(default_factory=dict)


def key(obj: StoredObject) -> Key:
    return (obj.object_type, obj.object_id)


def hard_removed_ids(batch: ObservationBatch) -> frozenset[str]:
    return frozenset(r.id for r in batch.removals if r.reason == "deleted")


def soft_removed_ids(batch: ObservationBatch) -> frozenset[str]:
    return frozenset(r.id for r in batch.removals if r.reason == "changed")


def restored_ids(batch: ObservationBatch, stored: Iterable[StoredObject]) -> frozenset[str]:
    """Ids of the batch's objects the inventory holds as deleted: they come back now."""
    seen = {obj.id for obj in batch.objects}
    return frozenset(
        obj.object_id
        for obj in stored
        if not obj.live and obj.object_type == batch.object_type and obj.object_id in seen
    )


def appeared_ids(batch: ObservationBatch, stored: Iterable[StoredObject]) -> frozenset[str]:
    """Ids of the batch's objects the inventory does not hold at all: recorded now, their
    edges a full run's finish hid (members not live yet) come back."""
    held = {obj.object_id for obj in stored if obj.object_type == batch.object_type}
    return frozenset(obj.id for obj in batch.objects if obj.id not in held)


def added_members(batch: ObservationBatch) -> dict[str, MemberType]:
    """The members the batch adds, with their types (`unknown` from a syncer that sends none)."""
    added: dict[str, MemberType] = {}
    for obj in batch.objects:
        codes = obj.members_added_types
        if len(codes) != len(obj.members_added):
            codes = "?" * len(obj.members_added)
        for member, code in zip(obj.members_added, codes, strict=True):
            added[member] = member_type(code)
    return added


def _settle(
    original: Mapping[Key, StoredObject], work: Mapping[Key, StoredObject], run_id: str
) -> Plan:
    changes: list[Change] = []
    writes: list[StoredObject] = []
    tallies: dict[ObjectType, Tally] = {}
    for k in sorted(work):
        before, after = original.get(k), work[k]
        if before == after:
            continue
        found = diff(before, after)
        counted = mark_counted(after, found, run_id)
        changes.extend(found)
        writes.append(counted.state)
        tally = tallies.setdefault(after.object_type, Tally())
        tally.changed += counted.changed
        tally.deleted += counted.deleted
    return Plan(tuple(changes), tuple(writes), tallies)


def _in_all_groups(
    work: dict[Key, StoredObject],
    rule: Callable[[StoredObject, frozenset[str]], StoredObject],
    ids: frozenset[str],
) -> None:
    """Apply a membership rule to the live containers of the working set.

    A deleted group keeps the membership it was last published with: a deletion's event says
    nothing of members, so its restore (which replaces the membership, see `observe`) must
    describe the change from that list, or its replayed events disagree with its state.
    """
    if not ids:
        return
    for k, obj in list(work.items()):
        if obj.object_type in CONTAINER_TYPES and obj.live:
            work[k] = rule(obj, ids)


def _leave_all_groups(work: dict[Key, StoredObject], gone: frozenset[str]) -> None:
    _in_all_groups(work, leave_containers, gone)


def _placed(position: Position | None, obj: StoredObject) -> StoredObject:
    """The object as observed or removed at `position` (see `positions`)."""
    return replace(obj, position=newest(obj.position, position))


def unseen_tombstone(batch: ObservationBatch, object_id: str, now: datetime) -> StoredObject:
    """A soft-deleted object the inventory never held: no attributes, no public change."""
    return StoredObject(
        tenant_id=batch.tenant_id,
        object_type=batch.object_type,
        object_id=object_id,
        first_seen=now,
        last_seen_run=batch.run_id,
        last_seen_at=batch.at,
        last_seen_attempt=batch.attempt,
        deleted_at=now,
        deletion="soft",
    )


def plan_batch(
    batch: ObservationBatch,
    stored: Iterable[StoredObject],
    now: datetime,
    soft_deleted: frozenset[str] = frozenset(),
) -> Plan:
    """Apply one observation batch to the objects it names and the groups of removed or
    restored ones.

    `stored` holds the inventory's objects of the batch's ids plus every group that contains
    (or hides) a removed or restored id; `soft_deleted` the added members the inventory holds
    as soft-deleted. Observations apply before removals; a hard-deleted object leaves every
    group, a soft-deleted one is hidden in them, a restored or newly recorded one shown again.
    """
    original = {key(obj): obj for obj in stored}
    work = dict(original)
    restored = restored_ids(batch, original.values()) | appeared_ids(batch, original.values())
    seen_at = batch_position(batch)
    for seen in batch.objects:
        k = (batch.object_type, seen.id)
        observed = observe(
            work.get(k),
            seen,
            tenant_id=batch.tenant_id,
            object_type=batch.object_type,
            run_id=batch.run_id,
            mode=batch.mode,
            seen_at=batch.at,
            now=now,
            attempt=batch.attempt,
            soft_deleted=soft_deleted,
        )
        work[k] = _placed(seen_at, observed)
    for removal in batch.removals:
        k = (batch.object_type, removal.id)
        kind: Deletion = "hard" if removal.reason == "deleted" else "soft"
        if k in work:
            work[k] = _placed(seen_at, remove(work[k], kind, now))
        elif kind == "soft":
            # Created and soft-deleted between two runs: never public, but Graph keeps its
            # edges and lists them, so a silent tombstone keeps it out of membership lists.
            work[k] = _placed(seen_at, unseen_tombstone(batch, removal.id, now))
    _leave_all_groups(work, hard_removed_ids(batch))
    _in_all_groups(work, hide_members, soft_removed_ids(batch))
    _in_all_groups(work, reveal_members, restored)
    return _settle(original, work, batch.run_id)


def plan_reconciliation(
    run_id: str,
    unseen: Iterable[StoredObject],
    groups: Iterable[StoredObject],
    now: datetime,
    *,
    drop_members: Iterable[ObjectType],
    attempt: int = 1,
    held: Mapping[ObjectType, frozenset[str]] | None = None,
    unknown: frozenset[str] = frozenset(),
    checked: frozenset[MemberType] = frozenset(),
) -> Plan:
    """A full run's end: unseen objects are deleted, unconfirmed members dropped.

    `unseen` are the live objects of the full, succeeded types the run did not see; `groups` the
    containers holding one of them plus those whose members the run did not all confirm
    (dropped only for the container types in `drop_members`: read in full and succeeded).
    A sweep cannot tell a soft delete from a purge, so the unseen go as `unseen`, not `hard`,
    and their membership edges are kept aside as a soft delete's are.
    `held` names, per type whose sweep the guardrail refused, the objects that sweep would have
    deleted: groups keep them as members, since the refusal covers everything the sweep implies.
    `groups` also holds the groups with pending members: those of the `checked` types (read in
    full and swept) that are `unknown` (not live) are hidden.
    """
    gone = [obj for obj in unseen if obj.live]
    original = {key(obj): obj for obj in (*gone, *groups)}
    work = dict(original)
    for obj in gone:
        work[key(obj)] = remove(obj, "unseen", now)
    # Like a soft delete, not a purge: the edges go aside, out of the public lists, and come
    # back on a restore; the drop below removes those a full groups round no longer listed.
    _in_all_groups(work, hide_members, frozenset(obj.object_id for obj in gone))
    if checked:
        for k, obj in list(work.items()):
            if obj.object_type in CONTAINER_TYPES and obj.live:
                work[k] = hide_unknown_members(obj, unknown, checked)
    dropping = frozenset(drop_members) & frozenset(CONTAINER_TYPES)
    held_back: dict[ObjectType, dict[ObjectType, HeldBack]] = {}
    for k, obj in list(work.items()):
        if obj.object_type in dropping:
            dropped = drop_unconfirmed_members(obj, run_id, attempt)
            mine = held_back.setdefault(obj.object_type, {})
            work[k] = _keep_held_members(obj, dropped, held or {}, mine)
    kept = {container: counts for container, counts in held_back.items() if counts}
    return replace(_settle(original, work, run_id), held_back=kept)


def _keep_held_members(
    before: StoredObject,
    after: StoredObject,
    held: Mapping[ObjectType, frozenset[str]],
    held_back: dict[ObjectType, HeldBack],
) -> StoredObject:
    """The group after a drop, with the members a refused sweep would have removed put back.

    A member the run still saw is not in `held`: its removal is real and goes through.
    """
    dropped = before.members - after.members
    kept: frozenset[str] = frozenset()
    for object_type, ids in held.items():
        mine = dropped & ids
        if mine:
            so_far = held_back.get(object_type, HeldBack())
            held_back[object_type] = HeldBack(so_far.removals + len(mine), so_far.groups + 1)
            kept |= mine
    return replace(after, members=after.members | kept) if kept else after


@dataclass(frozen=True)
class GuardrailPolicy:
    max_ratio: float = 0.2
    min_objects: int = 10


def guardrail_refusal(
    object_type: ObjectType, unseen: int, live: int, policy: GuardrailPolicy
) -> str | None:
    """Why deleting `unseen` of `live` objects is refused, or None when it may go ahead."""
    if live < policy.min_objects or unseen <= policy.max_ratio * live:
        return None
    return (
        f"safe-delete guardrail: {unseen} of {live} live {object_type} objects were not seen "
        f"in this full run (more than {policy.max_ratio:.0%}); nothing was deleted and no "
        "group lost them as members. If the deletions are real, grant an override (history API "
        "guardrail.override) and run a full scan again"
    )


def held_back_note(
    held_back: Mapping[ObjectType, HeldBack], container: ObjectType = "group"
) -> str:
    """A container type's row's reason for membership removals kept back with refused sweeps."""
    parts = [
        f"{h.removals} membership removals in {h.groups} {container}s held back by the safe-delete "
        f"guardrail on {object_type} (members this full run did not see, whose deletion the "
        "guardrail refused)"
        for object_type, h in sorted(held_back.items())
    ]
    return (
        "; ".join(parts) + ". They go through with those deletions once an operator grants an "
        "override (history API guardrail.override) and a full scan runs again"
    )


def missing_batches(
    results: Sequence[TypeResult], applied: Mapping[tuple[ObjectType, int], int], attempt: int
) -> dict[ObjectType, tuple[int, int]]:
    """Types whose batches are not all applied yet: type -> (applied, expected).

    `applied` counts batches per (type, attempt). A retried command re-reads Graph under the
    same run id; its finish describes its own attempt, so only that attempt's batches count.
    """
    got = {r.object_type: applied.get((r.object_type, attempt), 0) for r in results}
    return {
        r.object_type: (got[r.object_type], r.batches)
        for r in results
        if got[r.object_type] < r.batches
    }


def member_checked_types(
    results: Sequence[TypeResult],
    failed: Iterable[ObjectType],
    swept: Iterable[ObjectType],
) -> list[ObjectType]:
    """The types whose pending members a run's finish looks for: those its sweep covered, and
    those a delta round read in full (succeeded, every batch applied, no verdict in `failed`).

    A delta round lists every object created or restored since its link, so a member a group
    lists that is still not live in the inventory is not live in Graph either: a soft-deleted
    user a restored group brings back, say, that no round ever listed. Should it be live after
    all (created after its round read past it), a later round records it and shows its edges.
    """
    skipped = set(failed)
    checked = list(swept)
    checked += [
        r.object_type
        for r in results
        if r.mode != "full"
        and r.status == "Succeeded"
        and r.object_type not in skipped
        and r.object_type not in checked
    ]
    return checked


@dataclass(frozen=True)
class TypeVerdict:
    """History's own view of a type at the run's end, on top of the syncer's result."""

    status: RunStatus
    error: str | None = None


def final_counts(
    finished: SyncFinished,
    verdicts: Mapping[ObjectType, TypeVerdict],
    accumulated: Mapping[ObjectType, Tally],
    reconciled: Mapping[ObjectType, Tally],
    overrides: Mapping[ObjectType, str],
) -> tuple[TypeCounts, ...]:
    """The history rows' numbers: batch counts plus what the finish itself changed.

    `overrides` names, per type, the operator whose guardrail override this run consumed.
    """
    rows = []
    for result in finished.results:
        verdict = verdicts.get(result.object_type) or TypeVerdict(result.status, result.error)
        during = accumulated.get(result.object_type, Tally())
        at_end = reconciled.get(result.object_type, Tally())
        rows.append(
            TypeCounts(
                object_type=result.object_type,
                mode=result.mode,
                reason=result.reason,
                status=verdict.status,
                total=result.total,
                changed=during.changed + at_end.changed,
                deleted=during.deleted + at_end.deleted,
                filtered=result.filtered,
                error=verdict.error,
                guardrail_override=overrides.get(result.object_type),
                throttled_seconds=result.throttled_seconds,
            )
        )
    return tuple(rows)


def run_status(types: Sequence[TypeCounts]) -> RunStatus:
    return "Succeeded" if all(t.status == "Succeeded" for t in types) else "Failed"
