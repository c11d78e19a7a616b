"""Use cases: one per pipeline message, taking the ports as arguments.

Each follows the same order so a crash anywhere is safe to redeliver: compute the changes from
stored state, write the new state and the changes' events (to the outbox) in one transaction,
publish the tenant's outbox in commit order, and only then let the caller ack. Nothing is
published for a change that was not committed; a crash after the commit leaves the events in
the outbox, published by the redelivery (which finds its message applied), by the tenant's next
commit or by `publish_outboxes` (at startup and periodically), with their committed ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from entrasync_shared.messages import (
    ObservationBatch,
    SyncFinished,
    SyncRecorded,
    SyncStarted,
    TenantDeleted,
)
from entrasync_shared.subjects import CONTAINER_TYPES, Names, ObjectType

from entrasync_history.domain.events import Pending, announce, recorded_event
from entrasync_history.domain.model import StoredObject
from entrasync_history.domain.plans import (
    GuardrailPolicy,
    Tally,
    TypeVerdict,
    added_members,
    appeared_ids,
    final_counts,
    guardrail_refusal,
    hard_removed_ids,
    held_back_note,
    key,
    member_checked_types,
    missing_batches,
    plan_batch,
    plan_reconciliation,
    restored_ids,
    run_status,
    soft_removed_ids,
)
from entrasync_history.domain.positions import finish_position, fresh_part, newest
from entrasync_history.domain.runs import run_span
from entrasync_history.ports import EventPublisher, HistoryStore
from entrasync_history.usecases.effective import FINISH_STEP, Cause, effective_change
from entrasync_history.usecases.unknown_members import (
    check_pending_members,
    unread_member_types,
)

log = logging.getLogger(__name__)


class TenantLocks:
    """One lock per tenant, made on first use and dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, tenant_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        self._users[tenant_id] = self._users.get(tenant_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[tenant_id] -= 1
            if not self._users[tenant_id]:
                del self._users[tenant_id], self._locks[tenant_id]

    def __len__(self) -> int:
        return len(self._locks)


@dataclass(frozen=True)
class Context:
    """What every use case needs besides its message."""

    store: HistoryStore
    publisher: EventPublisher
    names: Names
    guardrail: GuardrailPolicy
    finish_max_waits: int
    effective_computed: Callable[[float], None] = field(default=lambda seconds: None, compare=False)
    """Told how long a tenant's first effective-membership computation took (a histogram)."""


def _unique(objects: list[StoredObject]) -> list[StoredObject]:
    return list({key(obj): obj for obj in objects}.values())


def swept_at(writes: tuple[StoredObject, ...], finished: SyncFinished) -> list[StoredObject]:
    """The finish's writes, the objects its sweep deleted placed after the run's batches: a
    late batch of an earlier run does not bring them back."""
    position = finish_position(finished.started_at, finished.attempt)
    return [
        replace(obj, position=newest(obj.position, position))
        if obj.deletion == "unseen" and obj.deleted_run == finished.run_id
        else obj
        for obj in writes
    ]


async def publish_outbox(ctx: Context, tenant_id: str) -> int:
    """Publish the tenant's committed events still in the outbox, oldest first, then take them
    out; how many there were. A copy published twice has the same id: the stream drops it."""
    pending = await ctx.store.unpublished(tenant_id)
    if pending:
        await ctx.publisher.publish([entry.event for entry in pending])
        await ctx.store.mark_published([entry.key for entry in pending])
    return len(pending)


async def publish_committed(ctx: Context, tenant_id: str, entries: list[Pending]) -> None:
    """Publish what a commit just put in the outbox, after whatever of the tenant's an earlier
    crash left there (then the whole outbox is read back, in order)."""
    if not entries:
        return
    if await ctx.store.unpublished_before(tenant_id, entries[0].key):
        await publish_outbox(ctx, tenant_id)
        return
    await ctx.publisher.publish([entry.event for entry in entries])
    await ctx.store.mark_published([entry.key for entry in entries])


async def publish_outboxes(ctx: Context) -> int:
    """Publish every tenant's outbox (what a crash between a commit and its publish left)."""
    published = 0
    for tenant_id in await ctx.store.outbox_tenants():
        published += await publish_outbox(ctx, tenant_id)
    return published


async def apply_batch(ctx: Context, batch: ObservationBatch, now: datetime) -> bool:
    """Apply a batch once; False when it was applied before (a redelivery)."""
    if await ctx.store.is_applied(batch.id):
        # Its commit may have been the last thing a crashed process did.
        await publish_outbox(ctx, batch.tenant_id)
        return False
    ids = {obj.id for obj in batch.objects} | {r.id for r in batch.removals}
    stored = await ctx.store.load(batch.tenant_id, batch.object_type, ids)
    # A late redelivery must not write its older state over newer batches' (it still counts
    # as applied): only what is not stale for the stored objects applies.
    fresh = fresh_part(batch, {obj.object_id: obj for obj in stored})
    if fresh is not batch:
        log.info("batch %s: part of it is older than the stored state; skipped", batch.id)
    # Containers whose members a removal or a restore changes (a restored member's edges are
    # hidden in them); and which added members are soft-deleted, so their edges go aside.
    moved = hard_removed_ids(fresh) | soft_removed_ids(fresh) | restored_ids(fresh, stored)
    if moved:
        stored += await ctx.store.containers_of(batch.tenant_id, moved)
    appeared = appeared_ids(fresh, stored)  # a finish may have hidden their edges
    if appeared:
        stored += await ctx.store.containers_hiding(batch.tenant_id, appeared)
    added = added_members(fresh)
    soft_deleted = await ctx.store.soft_deleted(batch.tenant_id, added) if added else frozenset()
    before = _unique(stored)
    plan = plan_batch(fresh, before, now, soft_deleted)
    if await ctx.store.recorded(batch.run_id) is not None:
        # A straggler of a run already recorded: its changes still apply (the inventory must
        # converge), but the run's published counts stay as recorded.
        plan = replace(plan, tallies={})
    else:  # the batch's own row always hears of it: its progress counts every batch
        plan = replace(plan, tallies={batch.object_type: Tally(), **plan.tallies})
    events, writes = announce(
        ctx.names, batch.tenant_id, batch.run_id, plan, now, batch.entra_tenant_id
    )
    cause = Cause(
        ctx.names,
        batch.tenant_id,
        batch.run_id,
        batch.id,
        now,
        batch.entra_tenant_id,
        ctx.effective_computed,
    )
    effective = await effective_change(ctx.store.effective, cause, before, writes)
    events += effective.events
    entries = await ctx.store.commit_batch(
        batch, writes, plan.tallies, events, closure=effective.closure
    )
    await publish_committed(ctx, batch.tenant_id, entries)
    return True


def superseded_error(run_id: str) -> str:
    return (
        f"cancelled: run {run_id} of the same tenant started before this run's finish arrived "
        "(the run was given up as lost)"
    )


async def record_started(ctx: Context, started: SyncStarted) -> None:
    """Record a run as Running; earlier runs of the tenant still Running are Cancelled.

    One run per tenant at a time: a newer run means the scheduler gave the older one up. Should
    the older run's finish still arrive, it is recorded as usual and replaces the Cancelled.
    """
    cancelled = await ctx.store.cancel_running(
        started.tenant_id,
        superseded_error(started.run_id),
        started_before=started.at,
        except_run=started.run_id,
    )
    if cancelled:
        log.warning("run %s supersedes Running runs %s", started.run_id, ", ".join(cancelled))
    await ctx.store.record_started(started)


TENANT_DELETED = "cancelled: the tenant was deleted while this run was in progress"


async def forget_tenant(ctx: Context, deleted: TenantDeleted) -> None:
    """A deleted tenant: erase its inventory and history when asked to, else keep them for
    audit and only end its Running runs."""
    if deleted.purge_history:
        removed = await ctx.store.purge_tenant(deleted.tenant_id)
        log.warning("tenant %s deleted and purged: %s", deleted.tenant_id, removed)
        return
    await ctx.store.remember_deleted(deleted)
    cancelled = await ctx.store.cancel_running(deleted.tenant_id, TENANT_DELETED)
    log.info("tenant %s deleted; history kept, runs cancelled: %s", deleted.tenant_id, cancelled)


async def record_finished(
    ctx: Context, finished: SyncFinished, deliveries: int, now: datetime
) -> SyncRecorded | None:
    """Reconcile a finished run and record it; None means "not all batches applied yet, retry".

    After `finish_max_waits` deliveries the missing types are recorded as Failed instead.
    """
    already = await ctx.store.recorded(finished.run_id)
    if already is not None:
        await publish_outbox(ctx, finished.tenant_id)
        return already
    applied = await ctx.store.applied_batches(finished.run_id)
    missing = missing_batches(finished.results, applied, finished.attempt)
    if missing and deliveries < ctx.finish_max_waits:
        return None
    verdicts = {
        object_type: TypeVerdict("Failed", f"only {got} of {expected} batches were applied")
        for object_type, (got, expected) in missing.items()
    }
    sweeps = await _sweepable_types(ctx, finished, verdicts, now)
    reconcile = sweeps.sweepable
    unseen: list[StoredObject] = []
    for object_type in reconcile:
        unseen += await _unseen(ctx, finished, object_type)
    groups: list[StoredObject] = []
    if unseen:
        gone = {obj.object_id for obj in unseen}
        groups += await ctx.store.containers_of(finished.tenant_id, gone)
    # Container types read in full: their members the run did not confirm are dropped.
    read_whole = [t for t in reconcile if t in CONTAINER_TYPES]
    if read_whole:
        groups += await ctx.store.containers_with_unconfirmed_members(
            finished.tenant_id, finished.run_id, finished.attempt, read_whole
        )
    checked = member_checked_types(finished.results, verdicts, reconcile)
    unread = unread_member_types(finished)
    unknown = await check_pending_members(ctx.store, finished.tenant_id, checked, unread)
    groups += unknown.groups
    groups = _unique(groups)
    plan = plan_reconciliation(
        finished.run_id,
        unseen,
        groups,
        now,
        drop_members=read_whole,
        attempt=finished.attempt,
        held=await _held(ctx, finished, sweeps.refused) if read_whole else None,
        unknown=unknown.unknown,
        checked=unknown.checked,
    )
    for container, held_back in plan.held_back.items():
        note = held_back_note(held_back, container)
        log.warning("run %s: %s", finished.run_id, note)
        verdicts[container] = TypeVerdict("Failed", note)
    accumulated = await ctx.store.accumulated(finished.run_id)
    types = final_counts(finished, verdicts, accumulated, plan.tallies, sweeps.overrides)
    span = run_span(finished, await ctx.store.run_start(finished.run_id))
    recorded = SyncRecorded(
        tenant_id=finished.tenant_id,
        run_id=finished.run_id,
        mode=finished.mode,
        reason=finished.reason,
        status=run_status(types),
        started_at=span.started_at,
        finished_at=finished.finished_at,
        attempts=span.attempts,
        types=types,
        entra_tenant_id=finished.entra_tenant_id,
    )
    events, writes = announce(
        ctx.names, finished.tenant_id, finished.run_id, plan, now, finished.entra_tenant_id
    )
    cause = Cause(
        ctx.names,
        finished.tenant_id,
        finished.run_id,
        FINISH_STEP,
        now,
        finished.entra_tenant_id,
        ctx.effective_computed,
    )
    effective = await effective_change(
        ctx.store.effective, cause, [*unseen, *groups], writes, finish=True
    )
    events += effective.events
    events.append(recorded_event(ctx.names, recorded))
    entries = await ctx.store.commit_finish(
        recorded, swept_at(writes, finished), events, closure=effective.closure
    )
    await publish_committed(ctx, finished.tenant_id, entries)
    return recorded


@dataclass(frozen=True)
class Sweeps:
    """Which full, succeeded types the finish sweeps, the operators whose overrides those sweeps
    use, and the types whose sweep the guardrail refused."""

    sweepable: list[ObjectType]
    overrides: dict[ObjectType, str]
    refused: list[ObjectType]


async def _unseen(
    ctx: Context, finished: SyncFinished, object_type: ObjectType
) -> list[StoredObject]:
    return await ctx.store.unseen(
        finished.tenant_id, object_type, finished.run_id, finished.started_at, finished.attempt
    )


async def _held(
    ctx: Context, finished: SyncFinished, refused: list[ObjectType]
) -> dict[ObjectType, frozenset[str]]:
    """The objects each refused sweep would have deleted: containers keep them as members."""
    held: dict[ObjectType, frozenset[str]] = {}
    for object_type in refused:
        unseen = await _unseen(ctx, finished, object_type)
        held[object_type] = frozenset(obj.object_id for obj in unseen)
    return held


async def _sweepable_types(
    ctx: Context,
    finished: SyncFinished,
    verdicts: dict[ObjectType, TypeVerdict],
    now: datetime,
) -> Sweeps:
    """Full, succeeded types whose deletion sweep may run (others get a verdict), the
    operators whose guardrail overrides those sweeps use, and the types the guardrail refused."""
    sweeps = Sweeps(sweepable=[], overrides={}, refused=[])
    overrides = await ctx.store.active_overrides(finished.tenant_id, now)
    for result in finished.results:
        if result.mode != "full" or result.status != "Succeeded":
            continue
        if result.object_type in verdicts:
            continue
        override = overrides.get(result.object_type)
        if override is not None:
            log.warning(
                "run %s: %s deletions go through on %s's guardrail override",
                finished.run_id,
                result.object_type,
                override.operator,
            )
            sweeps.overrides[result.object_type] = override.operator
            sweeps.sweepable.append(result.object_type)
            continue
        live = await ctx.store.count_live(finished.tenant_id, result.object_type)
        unseen = await ctx.store.count_unseen(
            finished.tenant_id,
            result.object_type,
            finished.run_id,
            finished.started_at,
            finished.attempt,
        )
        refusal = guardrail_refusal(result.object_type, unseen, live, ctx.guardrail)
        if refusal is not None:
            log.warning("run %s: %s", finished.run_id, refusal)
            verdicts[result.object_type] = TypeVerdict("Failed", refusal)
            sweeps.refused.append(result.object_type)
            continue
        sweeps.sweepable.append(result.object_type)
    return sweeps
