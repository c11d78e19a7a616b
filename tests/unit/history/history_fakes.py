"""Builders for pipeline messages and dict-backed fakes of history's ports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from effective_fakes import FakeEffective
from entrasync_history.adapters.mongo_outages import MONGO_OUTAGES
from entrasync_history.domain.effective_plan import ClosureUpdate
from entrasync_history.domain.events import OutgoingEvent, Pending
from entrasync_history.domain.model import RESTORABLE, StoredObject, confirmation_key
from entrasync_history.domain.plans import Tally
from entrasync_history.domain.runs import RunStart
from entrasync_history.domain.search import row_search
from entrasync_history.entrypoints.deps import Deps
from entrasync_history.entrypoints.pipeline import pipeline
from entrasync_shared.kit.consumers import DurableConsumer
from entrasync_shared.members import MemberType
from entrasync_shared.messages import (
    DeletedTenant,
    DeletedTenantsQuery,
    GuardrailOverride,
    GuardrailOverrideGrant,
    HistoryExportRequest,
    HistoryObjectQuery,
    HistoryObjectsQuery,
    HistoryRow,
    HistoryRunsQuery,
    InventoryCounts,
    InventoryItem,
    ObservationBatch,
    ObservedObject,
    Removal,
    SyncFinished,
    SyncMode,
    SyncRecorded,
    SyncStarted,
    TenantDeleted,
    TenantsStatusQuery,
    TenantSyncStatus,
    TypeResult,
)
from entrasync_shared.subjects import CONTAINER_TYPES, ObjectType

TENANT = "tenant-1"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def obj(object_id: str, members_added: Sequence[str] = (), **attributes: Any) -> ObservedObject:
    return ObservedObject(id=object_id, attributes=attributes, members_added=tuple(members_added))


def batch(
    run_id: str,
    object_type: ObjectType,
    seq: int,
    objects: Iterable[ObservedObject] = (),
    removals: Iterable[tuple[str, str]] = (),
    mode: SyncMode = "full",
    at: datetime | None = None,
) -> ObservationBatch:
    return ObservationBatch(
        id=f"{run_id}:{object_type}:{seq}",
        run_id=run_id,
        tenant_id=TENANT,
        object_type=object_type,
        seq=seq,
        mode=mode,
        objects=tuple(objects),
        removals=tuple(Removal(id=i, reason=r) for i, r in removals),  # type: ignore[arg-type]
        **({"at": at} if at else {}),
    )


def started(run_id: str, mode: SyncMode = "full", at: datetime = T0) -> SyncStarted:
    return SyncStarted(
        run_id=run_id,
        tenant_id=TENANT,
        mode=mode,
        reason="first" if mode == "full" else "schedule",
        object_types=("user", "group", "device"),
        at=at,
    )


def finished(
    run_id: str,
    batches: Mapping[ObjectType, int],
    mode: SyncMode = "full",
    started_at: datetime = T0,
    totals: Mapping[ObjectType, int] | None = None,
) -> SyncFinished:
    reason = "first" if mode == "full" else "schedule"
    return SyncFinished(
        run_id=run_id,
        tenant_id=TENANT,
        mode=mode,
        reason=reason,
        started_at=started_at,
        finished_at=started_at + timedelta(minutes=1),
        results=tuple(
            TypeResult(
                object_type=t,
                mode=mode,
                reason=reason,
                status="Succeeded",
                total=(totals or {}).get(t, 0),
                batches=n,
            )
            for t, n in batches.items()
        ),
    )


class FakeHistoryStore:
    """The HistoryStore port over plain dicts (no transactions needed: one writer)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[ObjectType, str], StoredObject] = {}
        self.applied: dict[str, ObservationBatch] = {}
        self.tallies: dict[tuple[str, ObjectType], Tally] = {}
        self.runs: dict[str, SyncRecorded] = {}
        self.started: dict[str, SyncStarted] = {}
        self.cancelled: dict[str, str] = {}
        self.overrides: dict[ObjectType, GuardrailOverride] = {}
        self.deleted_tenants: dict[str, TenantDeleted] = {}
        self.tombstones: dict[str, bool] = {}  # tenant id → purged
        self.outbox: list[tuple[str, Pending]] = []  # (tenant id, entry), in commit order
        self.held: dict[str, tuple[SyncFinished, int]] = {}  # run id → held finish, waits
        self._outboxed = 0
        self.effective = FakeEffective(self)

    async def ensure_indexes(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def is_applied(self, batch_id: str) -> bool:
        return batch_id in self.applied

    async def load(
        self, tenant_id: str, object_type: ObjectType, object_ids: Iterable[str]
    ) -> list[StoredObject]:
        return [self.objects[k] for i in object_ids if (k := (object_type, i)) in self.objects]

    async def containers_of(self, tenant_id: str, member_ids: Iterable[str]) -> list[StoredObject]:
        ids = set(member_ids)
        return [
            o
            for o in self.objects.values()
            if o.object_type in CONTAINER_TYPES and (o.members | o.hidden_members) & ids
        ]

    async def containers_hiding(
        self, tenant_id: str, member_ids: Iterable[str]
    ) -> list[StoredObject]:
        ids = set(member_ids)
        return [
            o
            for o in self.objects.values()
            if o.object_type in CONTAINER_TYPES and o.hidden_members & ids
        ]

    async def live_ids(
        self, tenant_id: str, object_type: ObjectType, object_ids: Iterable[str]
    ) -> frozenset[str]:
        return frozenset(
            i for i in object_ids if (o := self.objects.get((object_type, i))) and o.live
        )

    async def containers_with_pending_members(
        self,
        tenant_id: str,
        *,
        after: tuple[ObjectType, str] | None = None,
        limit: int | None = None,
    ) -> list[StoredObject]:
        found = sorted(
            (
                o
                for o in self.objects.values()
                if o.object_type in CONTAINER_TYPES
                and o.live
                and o.pending_members
                and (after is None or (o.object_type, o.object_id) > after)
            ),
            key=lambda o: (o.object_type, o.object_id),
        )
        return found[:limit] if limit else found

    async def settle_pending_members(
        self, tenant_id: str, settled: Mapping[tuple[ObjectType, str], frozenset[str]]
    ) -> None:
        for k, members in settled.items():
            container = self.objects.get(k)
            if container is not None:
                self.objects[k] = replace(
                    container, pending_members=container.pending_members - members
                )

    async def soft_deleted(
        self, tenant_id: str, members: Mapping[str, MemberType]
    ) -> frozenset[str]:
        return frozenset(
            o.object_id
            for o in self.objects.values()
            if o.object_id in members
            and members[o.object_id] in (o.object_type, "unknown")
            and o.deletion in RESTORABLE
        )

    async def commit_batch(
        self,
        batch: ObservationBatch,
        writes: Sequence[StoredObject],
        tallies: Mapping[ObjectType, Tally],
        events: Sequence[OutgoingEvent] = (),
        closure: ClosureUpdate | None = None,
    ) -> list[Pending]:
        self._write(writes)
        if closure is not None:
            self.effective.write(batch.tenant_id, closure)
        for object_type, tally in tallies.items():
            row = self.tallies.setdefault((batch.run_id, object_type), Tally())
            row.changed += tally.changed
            row.deleted += tally.deleted
        self.applied[batch.id] = batch
        return self._enqueue(batch.tenant_id, events)

    def _enqueue(self, tenant_id: str, events: Sequence[OutgoingEvent]) -> list[Pending]:
        entries = []
        for event in events:
            self._outboxed += 1
            entries.append(Pending(str(self._outboxed), event))
        self.outbox += [(tenant_id, entry) for entry in entries]
        return entries

    async def unpublished(self, tenant_id: str) -> list[Pending]:
        return [entry for tenant, entry in self.outbox if tenant == tenant_id]

    async def unpublished_before(self, tenant_id: str, key: str) -> bool:
        return any(t == tenant_id and int(e.key) < int(key) for t, e in self.outbox)

    async def outbox_tenants(self) -> list[str]:
        return sorted({tenant for tenant, _ in self.outbox})

    async def mark_published(self, keys: Sequence[str]) -> None:
        done = set(keys)
        self.outbox = [(t, entry) for t, entry in self.outbox if entry.key not in done]

    def _write(self, writes: Sequence[StoredObject]) -> None:
        for o in writes:
            self.objects[(o.object_type, o.object_id)] = o

    async def record_started(self, started: SyncStarted) -> None:
        first = self.started.get(started.run_id)
        if first is not None:  # a retried attempt: the run began with the first one
            attempt = max(first.attempt, started.attempt)
            started = first.model_copy(update={"attempt": attempt})
        self.started[started.run_id] = started

    async def run_start(self, run_id: str) -> RunStart | None:
        started = self.started.get(run_id)
        return RunStart(started.at, started.attempt) if started else None

    async def hold_finish(self, finished: SyncFinished, waits: int) -> None:
        self.held[finished.run_id] = (finished, waits)

    async def held_finishes(self, tenant_id: str | None = None) -> list[tuple[SyncFinished, int]]:
        return [h for h in self.held.values() if tenant_id in (None, h[0].tenant_id)]

    async def release_finish(self, run_id: str) -> None:
        self.held.pop(run_id, None)

    async def cancel_running(
        self,
        tenant_id: str,
        error: str,
        *,
        started_before: datetime | None = None,
        except_run: str | None = None,
    ) -> list[str]:
        running = [
            s.run_id
            for s in self.started.values()
            if s.run_id != except_run
            and (started_before is None or s.at < started_before)
            and s.run_id not in self.runs
            and s.run_id not in self.cancelled
        ]
        self.cancelled.update(dict.fromkeys(running, error))
        return running

    async def remember_deleted(self, deleted: TenantDeleted) -> None:
        self.deleted_tenants[deleted.tenant_id] = deleted

    async def purge_tenant(self, tenant_id: str) -> dict[str, int]:
        removed = {"inventory": len(self.objects), "runs": len(self.runs)}
        tombstones = self.tombstones
        self.__init__()  # type: ignore[misc]
        self.tombstones = tombstones  # like the tenant_tombstones collection: never purged
        return removed

    async def bury(self, tenant_id: str, at: datetime, *, purged: bool) -> None:
        self.tombstones[tenant_id] = purged

    async def buried(self, tenant_id: str) -> bool:
        return tenant_id in self.tombstones

    async def purged_tenants(self) -> list[str]:
        return [tenant_id for tenant_id, purged in self.tombstones.items() if purged]

    async def applied_batches(self, run_id: str) -> dict[tuple[ObjectType, int], int]:
        counts: dict[tuple[ObjectType, int], int] = {}
        for b in self.applied.values():
            if b.run_id == run_id:
                k = (b.object_type, b.attempt)
                counts[k] = counts.get(k, 0) + 1
        return counts

    def _live(self, object_type: ObjectType) -> list[StoredObject]:
        return [o for o in self.objects.values() if o.object_type == object_type and o.live]

    async def count_live(self, tenant_id: str, object_type: ObjectType) -> int:
        return len(self._live(object_type))

    async def unseen(
        self,
        tenant_id: str,
        object_type: ObjectType,
        run_id: str,
        started_at: datetime,
        attempt: int = 1,
    ) -> list[StoredObject]:
        return [
            o
            for o in self._live(object_type)
            if (o.last_seen_run, o.last_seen_attempt) != (run_id, attempt)
            and o.last_seen_at < started_at
        ]

    async def count_unseen(
        self,
        tenant_id: str,
        object_type: ObjectType,
        run_id: str,
        started_at: datetime,
        attempt: int = 1,
    ) -> int:
        return len(await self.unseen(tenant_id, object_type, run_id, started_at, attempt))

    async def containers_with_unconfirmed_members(
        self, tenant_id: str, run_id: str, attempt: int, object_types: Sequence[ObjectType]
    ) -> list[StoredObject]:
        return [
            g
            for t in object_types
            for g in self._live(t)
            if g.confirmed_run == confirmation_key(run_id, attempt)
            and g.last_seen_run == run_id
            and not g.members <= g.confirmed_members
        ]

    async def accumulated(self, run_id: str) -> dict[ObjectType, Tally]:
        return {t: replace(v) for (r, t), v in self.tallies.items() if r == run_id}

    async def recorded(self, run_id: str) -> SyncRecorded | None:
        return self.runs.get(run_id)

    async def active_overrides(
        self, tenant_id: str, now: datetime
    ) -> dict[ObjectType, GuardrailOverride]:
        return {
            t: o for t, o in self.overrides.items() if o.used_by_run is None and o.expires_at > now
        }

    async def commit_finish(
        self,
        recorded: SyncRecorded,
        writes: Sequence[StoredObject],
        events: Sequence[OutgoingEvent] = (),
        closure: ClosureUpdate | None = None,
    ) -> list[Pending]:
        self._write(writes)
        if closure is not None:
            self.effective.write(recorded.tenant_id, closure)
        self.runs[recorded.run_id] = recorded
        for counts in recorded.types:
            if counts.guardrail_override is not None:
                used = self.overrides[counts.object_type]
                self.overrides[counts.object_type] = used.model_copy(
                    update={"used_by_run": recorded.run_id}
                )
        return self._enqueue(recorded.tenant_id, events)

    def grant(self, object_type: ObjectType, operator: str, at: datetime) -> None:
        self.overrides[object_type] = GuardrailOverride(
            tenant_id=TENANT,
            object_type=object_type,
            operator=operator,
            granted_at=at,
            expires_at=at + timedelta(days=1),
        )


class FakeHistoryQueries:
    """The HistoryQueries port over a list of rows (what the API layer needs to be driven)."""

    def __init__(self, rows: Sequence[HistoryRow] = ()) -> None:
        self.rows = sorted(rows, key=lambda r: (r.started_at, r.run_id, r.object_type))[::-1]
        self.grants: list[GuardrailOverrideGrant] = []

    def _matching(self, text: str) -> list[HistoryRow]:
        search = row_search(text)
        if search is None:
            return list(self.rows)
        return [r for r in self.rows if search.matches_row(r)]

    async def history_rows(
        self, query: HistoryRunsQuery, now: datetime
    ) -> tuple[list[HistoryRow], int]:
        found = self._matching(query.search)
        start = (query.page - 1) * query.page_size
        return found[start : start + query.page_size], len(found)

    async def export_chunk(
        self, request: HistoryExportRequest, now: datetime
    ) -> tuple[list[HistoryRow], str | None]:
        start = int(request.after or 0)
        found = self._matching(request.search)
        chunk = found[start : start + request.max_rows]
        after = start + len(chunk)
        return chunk, (str(after) if after < len(found) else None)

    async def deleted_tenants(self, query: DeletedTenantsQuery) -> list[DeletedTenant]:
        return []

    async def inventory(self, query: HistoryObjectsQuery) -> tuple[list[InventoryItem], int]:
        return [], 0

    async def inventory_item(self, query: HistoryObjectQuery) -> InventoryItem | None:
        return None

    async def inventory_counts(self, tenant_id: str) -> InventoryCounts:
        return InventoryCounts(tenant_id=tenant_id, types=())

    async def tenants_status(self, query: TenantsStatusQuery) -> list[TenantSyncStatus]:
        return []

    async def grant_override(
        self, grant: GuardrailOverrideGrant, now: datetime
    ) -> list[GuardrailOverride]:
        self.grants.append(grant)
        return []


class FakeEventPublisher:
    """Keeps published events; like the stream, drops a repeated `Nats-Msg-Id`. The
    `effective_changed` events are kept apart in `effective` (`events` holds the others)."""

    def __init__(self) -> None:
        self.events: list[OutgoingEvent] = []
        self.effective: list[OutgoingEvent] = []
        self._ids: set[str] = set()

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        for event in events:
            if event.msg_id not in self._ids:
                self._ids.add(event.msg_id)
                effective = event.subject.endswith(".effective_changed")
                (self.effective if effective else self.events).append(event)

    def kinds(self) -> list[tuple[str, str]]:
        return [(e.envelope.type.rsplit(".", 1)[1], e.envelope.subject) for e in self.events]

    def take(self) -> list[tuple[str, str]]:
        """Kinds and subjects published so far, forgetting them (ids stay known)."""
        taken = self.kinds()
        self.events = []
        return taken


class FakeDeadLetters:
    def __init__(self) -> None:
        self.parked: list[tuple[bytes, str, str, str]] = []

    async def park(self, payload: bytes, subject: str, reason: str, msg_id: str) -> None:
        self.parked.append((payload, subject, reason, msg_id))


class FakeJsMessage:
    """Stands in for FastStream's NatsMessage: records the ack decision."""

    def __init__(self, subject: str, data: bytes, deliveries: int = 1, seq: int = 7) -> None:
        self.raw_message = SimpleNamespace(
            subject=subject,
            data=data,
            metadata=SimpleNamespace(
                num_delivered=deliveries, sequence=SimpleNamespace(stream=seq)
            ),
        )
        self.decision: tuple[str, float | None] | None = None
        self.beats = 0

    async def ack(self) -> None:
        self.decision = ("ack", None)

    async def nack(self, delay: float | None = None) -> None:
        self.decision = ("nack", delay)

    async def reject(self) -> None:
        self.decision = ("term", None)

    async def in_progress(self) -> None:
        self.beats += 1


class CapturingBroker:
    """Stands in for the broker at `attach`: keeps each subscriber's options and handler."""

    def __init__(self) -> None:
        self.options: dict[str, dict[str, Any]] = {}
        self.handlers: dict[str, Callable[[Any], Awaitable[None]]] = {}

    def subscriber(self, subject: str, **options: Any) -> Any:
        def register(handler: Callable[[Any], Awaitable[None]]) -> None:
            self.options[options["title"]] = {**options, "subject": subject}
            self.handlers[options["title"]] = handler

        return register


async def deliver_to(consumer: DurableConsumer[Deps], deps: Deps, msg: FakeJsMessage) -> None:
    """Run `msg` through `consumer` as the kit does (parse, handler, ack), counting in
    `deps.stats`; no broker."""
    stats = deps.stats.partitions[0] if consumer is pipeline else deps.stats.tenant_deleted
    broker = CapturingBroker()
    replace(consumer, stats=stats).attach(
        broker,  # type: ignore[arg-type]
        deps.names,
        lambda: deps,
        parking=deps.dead_letters,
        outages=MONGO_OUTAGES,
        max_failed_deliveries=deps.max_failed_deliveries,
        retry_delay=deps.retry_delay,
    )
    [handler] = broker.handlers.values()
    await handler(msg)
