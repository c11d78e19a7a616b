"""Builders for pipeline messages and dict-backed fakes of history's ports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from entrasync_history.domain.events import OutgoingEvent
from entrasync_history.domain.model import StoredObject
from entrasync_history.domain.plans import Tally, batch_attempt
from entrasync_shared.messages import (
    HistoryObjectsQuery,
    HistoryRow,
    HistoryRunsQuery,
    InventoryItem,
    ObservationBatch,
    ObservedObject,
    Removal,
    SyncFinished,
    SyncMode,
    SyncRecorded,
    SyncStarted,
    TypeResult,
)
from entrasync_shared.subjects import ObjectType

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

    async def groups_containing(
        self, tenant_id: str, member_ids: Iterable[str]
    ) -> list[StoredObject]:
        ids = set(member_ids)
        return [o for o in self.objects.values() if o.object_type == "group" and o.members & ids]

    async def commit_batch(
        self,
        batch: ObservationBatch,
        writes: Sequence[StoredObject],
        tallies: Mapping[ObjectType, Tally],
    ) -> None:
        self._write(writes)
        for object_type, tally in tallies.items():
            row = self.tallies.setdefault((batch.run_id, object_type), Tally())
            row.changed += tally.changed
            row.deleted += tally.deleted
        self.applied[batch.id] = batch

    def _write(self, writes: Sequence[StoredObject]) -> None:
        for o in writes:
            self.objects[(o.object_type, o.object_id)] = o

    async def record_started(self, started: SyncStarted) -> None:
        self.started[started.run_id] = started

    async def applied_batches(self, run_id: str) -> dict[tuple[ObjectType, int], int]:
        counts: dict[tuple[ObjectType, int], int] = {}
        for b in self.applied.values():
            if b.run_id == run_id:
                k = (b.object_type, batch_attempt(b))
                counts[k] = counts.get(k, 0) + 1
        return counts

    def _live(self, object_type: ObjectType) -> list[StoredObject]:
        return [o for o in self.objects.values() if o.object_type == object_type and o.live]

    async def count_live(self, tenant_id: str, object_type: ObjectType) -> int:
        return len(self._live(object_type))

    async def unseen(
        self, tenant_id: str, object_type: ObjectType, run_id: str, started_at: datetime
    ) -> list[StoredObject]:
        return [
            o
            for o in self._live(object_type)
            if o.last_seen_run != run_id and o.last_seen_at < started_at
        ]

    async def count_unseen(
        self, tenant_id: str, object_type: ObjectType, run_id: str, started_at: datetime
    ) -> int:
        return len(await self.unseen(tenant_id, object_type, run_id, started_at))

    async def groups_with_unconfirmed_members(
        self, tenant_id: str, run_id: str
    ) -> list[StoredObject]:
        return [
            g
            for g in self._live("group")
            if g.confirmed_run == run_id
            and g.last_seen_run == run_id
            and not g.members <= g.confirmed_members
        ]

    async def accumulated(self, run_id: str) -> dict[ObjectType, Tally]:
        return {t: replace(v) for (r, t), v in self.tallies.items() if r == run_id}

    async def recorded(self, run_id: str) -> SyncRecorded | None:
        return self.runs.get(run_id)

    async def commit_finish(self, recorded: SyncRecorded, writes: Sequence[StoredObject]) -> None:
        self._write(writes)
        self.runs[recorded.run_id] = recorded

    async def history_rows(self, query: HistoryRunsQuery) -> tuple[list[HistoryRow], int]:
        raise NotImplementedError

    async def inventory(self, query: HistoryObjectsQuery) -> tuple[list[InventoryItem], int]:
        raise NotImplementedError


class FakeEventPublisher:
    """Keeps published events; like the stream, drops a repeated `Nats-Msg-Id`."""

    def __init__(self) -> None:
        self.events: list[OutgoingEvent] = []
        self._ids: set[str] = set()

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        for event in events:
            if event.msg_id not in self._ids:
                self._ids.add(event.msg_id)
                self.events.append(event)

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

    async def park(self, payload: bytes, subject: str, reason: str, dedupe_id: str) -> None:
        self.parked.append((payload, subject, reason, dedupe_id))


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

    async def ack(self) -> None:
        self.decision = ("ack", None)

    async def nack(self, delay: float | None = None) -> None:
        self.decision = ("nack", delay)
