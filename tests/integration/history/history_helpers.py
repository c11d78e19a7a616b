"""Test helpers for history: a stand-in syncer publishing pipeline messages, and readers of
the events stream and the history database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_devtools.infra import LocalInfra
from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_history.settings import Settings
from entrasync_shared.messages import (
    ObservationBatch,
    ObservedObject,
    Removal,
    RunStatus,
    SyncFinished,
    SyncMode,
    SyncRecorded,
    SyncStarted,
    TypeCounts,
    TypeResult,
)
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES, OBJECT_TYPES, Names, ObjectType
from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.js.errors import NotFoundError
from pydantic import BaseModel
from support.polling import eventually

TENANT = "c0ffee00-0000-4000-8000-000000000001"


def obj(
    object_id: str,
    added: Sequence[str] = (),
    removed: Sequence[str] = (),
    **attributes: Any,
) -> ObservedObject:
    return ObservedObject(
        id=object_id,
        attributes=attributes,
        members_added=tuple(added),
        members_removed=tuple(removed),
    )


class Run:
    """One sync run as a syncer would publish it: started, batches per type, finished."""

    def __init__(
        self,
        pipeline: Pipeline,
        mode: SyncMode,
        tenant_id: str = TENANT,
        attempt: int = 1,
        started_at: datetime | None = None,
        object_types: Sequence[ObjectType] = DEFAULT_OBJECT_TYPES,
    ) -> None:
        self.pipeline = pipeline
        self.object_types = tuple(object_types)
        self.run_id = uuid.uuid4().hex
        self.tenant_id = tenant_id
        self.mode = mode
        self.reason = "first" if mode == "full" else "schedule"
        self.started_at = started_at or datetime.now(UTC)
        self.attempt = attempt
        self.batches: dict[ObjectType, int] = {t: 0 for t in OBJECT_TYPES}
        self.totals: dict[ObjectType, int] = {t: 0 for t in OBJECT_TYPES}

    async def start(self) -> Run:
        await self.pipeline.publish(
            self.pipeline.names.run_event(self.tenant_id, "started"),
            SyncStarted(
                run_id=self.run_id,
                tenant_id=self.tenant_id,
                mode=self.mode,
                reason=self.reason,  # type: ignore[arg-type]
                object_types=self.object_types,
                at=self.started_at,
            ),
        )
        return self

    def batch(
        self,
        object_type: ObjectType,
        objects: Iterable[ObservedObject] = (),
        removals: Iterable[tuple[str, str]] = (),
    ) -> ObservationBatch:
        assert object_type in self.object_types, f"{object_type} is not one of the run's types"
        seq = self.batches[object_type]
        self.batches[object_type] += 1
        built = ObservationBatch(
            # The syncer's batch ids: a retried command's batches get an ":a<attempt>" suffix.
            id=f"{self.run_id}:{object_type}:{seq}"
            + (f":a{self.attempt}" if self.attempt > 1 else ""),
            run_id=self.run_id,
            tenant_id=self.tenant_id,
            object_type=object_type,
            seq=seq,
            attempt=self.attempt,
            started_at=self.started_at,
            mode=self.mode,
            objects=tuple(objects),
            removals=tuple(Removal(id=i, reason=r) for i, r in removals),  # type: ignore[arg-type]
        )
        self.totals[object_type] += len(built.objects) + len(built.removals)
        return built

    async def send(
        self,
        object_type: ObjectType,
        objects: Iterable[ObservedObject] = (),
        removals: Iterable[tuple[str, str]] = (),
    ) -> ObservationBatch:
        built = self.batch(object_type, objects, removals)
        await self.pipeline.publish_batch(built)
        return built

    def finished(self) -> SyncFinished:
        return SyncFinished(
            run_id=self.run_id,
            tenant_id=self.tenant_id,
            mode=self.mode,
            reason=self.reason,  # type: ignore[arg-type]
            started_at=self.started_at,
            finished_at=datetime.now(UTC) + timedelta(milliseconds=1),
            attempt=self.attempt,
            results=tuple(
                TypeResult(
                    object_type=t,
                    mode=self.mode,
                    reason=self.reason,  # type: ignore[arg-type]
                    status="Succeeded",
                    total=self.totals[t],
                    batches=self.batches[t],
                )
                for t in self.object_types
            ),
        )

    async def finish(self) -> dict[str, Any]:
        """Publish the finish and wait for history's SyncRecorded; returns its CloudEvent."""
        await self.pipeline.publish(
            self.pipeline.names.run_event(self.tenant_id, "finished"), self.finished()
        )
        return await self.pipeline.recorded(self.run_id, self.tenant_id)


class Pipeline:
    """Publishes to ENTRASYNC_PIPELINE and reads ENTRASYNC_EVENTS / the dead letters."""

    def __init__(self, nc: NatsClient, names: Names) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.names = names

    async def publish(self, subject: str, message: BaseModel, msg_id: str | None = None) -> None:
        await self.publish_raw(subject, message.model_dump_json().encode(), msg_id)

    async def publish_raw(self, subject: str, payload: bytes, msg_id: str | None = None) -> None:
        headers = {"Nats-Msg-Id": msg_id or uuid.uuid4().hex}
        await self.js.publish(subject, payload, stream=self.names.pipeline_stream, headers=headers)

    async def publish_batch(self, batch: ObservationBatch, msg_id: str | None = None) -> None:
        subject = self.names.observed(batch.tenant_id, batch.object_type)
        await self.publish(subject, batch, msg_id or batch.id)

    async def stream_messages(self, stream: str) -> list[tuple[str, dict[str, str], bytes]]:
        info = await self.js.stream_info(stream)
        found: list[tuple[str, dict[str, str], bytes]] = []
        if not info.state.messages:
            return found
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await self.js.get_msg(stream, seq)
            except NotFoundError:
                continue
            found.append((msg.subject, dict(msg.headers or {}), msg.data))
        return found

    async def events(self) -> list[dict[str, Any]]:
        """Every CloudEvent stored in ENTRASYNC_EVENTS, in order."""
        stored = await self.stream_messages(self.names.events_stream)
        return [json.loads(data) for _, _, data in stored]

    async def object_events(self, run_id: str) -> list[tuple[str, str]]:
        """(kind, object id) of the directory events a run produced about objects, in order
        (not `effective_changed`, about principals: `effective_events`)."""
        return [
            (e["type"].rsplit(".", 1)[1], e["subject"])
            for e in await self.events()
            if e["type"].startswith("io.entrasync.directory.")
            and not e["type"].endswith(".effective_changed")
            and e["data"]["run_id"] == run_id
        ]

    async def effective_events(self, run_id: str) -> list[dict[str, Any]]:
        """The `effective_changed` events a run produced, in order."""
        return [
            e
            for e in await self.events()
            if e["type"].endswith(".effective_changed") and e["data"]["run_id"] == run_id
        ]

    async def recorded_now(self, run_id: str, tenant_id: str = TENANT) -> dict[str, Any] | None:
        """The SyncRecorded CloudEvent of `run_id` if it is the tenant's last one, else None."""
        try:
            msg = await self.js.get_last_msg(
                self.names.events_stream, self.names.sync_recorded(tenant_id)
            )
        except NotFoundError:
            return None
        event: dict[str, Any] = json.loads(msg.data)
        return event if event["data"]["run_id"] == run_id else None

    async def recorded(self, run_id: str, tenant_id: str = TENANT) -> dict[str, Any]:
        return await eventually(
            lambda: self.recorded_now(run_id, tenant_id), f"SyncRecorded of run {run_id}"
        )


def by_kind(events: Iterable[tuple[str, str]]) -> Mapping[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for kind, object_id in events:
        grouped.setdefault(kind, []).append(object_id)
    return {kind: sorted(ids) for kind, ids in grouped.items()}


async def live_inventory(db: Any, tenant_id: str, object_type: ObjectType) -> dict[str, Any]:
    """How the end-to-end test reads the inventory: live objects of one type by id."""
    cursor = db["inventory"].find(
        {"tenant_id": tenant_id, "object_type": object_type, "deleted": False}
    )
    return {doc["object_id"]: doc async for doc in cursor}


@dataclass(frozen=True)
class PastRun:
    """A run to seed straight through the store: one row per type, Failed where `errors` say."""

    started_at: datetime
    errors: Mapping[ObjectType, str] = field(default_factory=dict)
    status: RunStatus | None = None
    tenant_id: str = TENANT
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    changed: int = 1
    total: int = 10


async def seed_runs(store: MongoHistoryStore, runs: Iterable[PastRun], parallel: int = 16) -> None:
    """Record runs with the service's own store (so rows and per-day counts are the real ones)."""
    gate = asyncio.Semaphore(parallel)

    async def one(run: PastRun) -> None:
        started = SyncStarted(
            run_id=run.run_id,
            tenant_id=run.tenant_id,
            mode="delta",
            reason="schedule",
            object_types=DEFAULT_OBJECT_TYPES,
            at=run.started_at,
        )
        types = tuple(
            TypeCounts(
                object_type=t,
                mode="delta",
                reason="schedule",
                status="Failed" if t in run.errors else "Succeeded",
                total=run.total,
                changed=run.changed,
                error=run.errors.get(t),
            )
            for t in DEFAULT_OBJECT_TYPES
        )
        async with gate:
            await store.record_started(started)
            if run.status == "Running":
                return
            await store.commit_finish(
                SyncRecorded(
                    tenant_id=run.tenant_id,
                    run_id=run.run_id,
                    mode="delta",
                    reason="schedule",
                    status=run.status or ("Failed" if run.errors else "Succeeded"),
                    started_at=run.started_at,
                    finished_at=run.started_at + timedelta(seconds=5),
                    types=types,
                ),
                [],
            )

    await asyncio.gather(*(one(run) for run in runs))


def starts(count: int, step: timedelta = timedelta(minutes=1)) -> list[datetime]:
    """`count` start times `step` apart, the newest first (a minute ago)."""
    newest = datetime.now(UTC) - timedelta(minutes=1)
    return [newest - i * step for i in range(count)]


async def ask(nc: NatsClient, subject: str, body: Any) -> dict[str, Any]:
    """A raw JSON request (anything, valid or not) and its decoded reply."""

    async def answered() -> Any:
        # Right after startup nats-server 2.9 rarely reports "no responders" once.
        try:
            return await nc.request(subject, json.dumps(body).encode(), timeout=5)
        except NoRespondersError:
            return None

    msg = await eventually(answered, f"an answer on {subject}")
    return json.loads(msg.data)


USERS = [f"u{i:02d}" for i in range(12)]
GROUPS = {"g1": ["u00", "u01", "u02", "u03"], "g2": ["u03", "u04"], "g3": []}
DEVICES = ["d1", "d2"]


async def full_run(
    pipeline: Pipeline,
    users: list[str] = USERS,
    groups: dict[str, list[str]] = GROUPS,
    devices: list[str] = DEVICES,
) -> tuple[Run, dict[str, Any]]:
    run = await Run(pipeline, "full").start()
    half = len(users) // 2
    await run.send("user", [obj(u, displayName=u.upper()) for u in users[:half]])
    await run.send("user", [obj(u, displayName=u.upper()) for u in users[half:]])
    for group, members in groups.items():  # members arrive in slices, the group repeated
        await run.send("group", [obj(group, members[:2], displayName=group)])
        if members[2:]:
            await run.send("group", [obj(group, members[2:], displayName=group)])
    await run.send("device", [obj(d, os="Linux") for d in devices])
    return run, await run.finish()


def row_counts(recorded: dict[str, Any]) -> dict[str, tuple[str, int, int, int]]:
    return {
        t["object_type"]: (t["status"], t["total"], t["changed"], t["deleted"])
        for t in recorded["data"]["types"]
    }


def history_settings(infra: LocalInfra, names: Names, db_name: str) -> Settings:
    """The in-process history service's settings for a test's prefix and database."""
    return Settings(
        ENTRASYNC_NATS_URL=infra.nats_url,
        ENTRASYNC_MONGODB_URI=infra.mongodb_uri,
        ENTRASYNC_PREFIX=names.prefix,
        ENTRASYNC_HISTORY_DB=db_name,
        ENTRASYNC_HISTORY_FINISH_WAIT_SECONDS=0.2,
        ENTRASYNC_HISTORY_RETRY_DELAY_SECONDS=0.2,
    )
