"""Test helpers for history: a stand-in syncer publishing pipeline messages, and readers of
the events stream and the history database."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from entrasync_shared.messages import (
    ObservationBatch,
    ObservedObject,
    Removal,
    SyncFinished,
    SyncMode,
    SyncStarted,
    TypeResult,
)
from entrasync_shared.subjects import OBJECT_TYPES, Names, ObjectType
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from pydantic import BaseModel

TENANT = "c0ffee00-0000-4000-8000-000000000001"
T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, within: float = 20.0
) -> T:
    """Poll `probe` until it returns something truthy, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


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

    def __init__(self, pipeline: Pipeline, mode: SyncMode, tenant_id: str = TENANT) -> None:
        self.pipeline = pipeline
        self.run_id = uuid.uuid4().hex
        self.tenant_id = tenant_id
        self.mode = mode
        self.reason = "first" if mode == "full" else "schedule"
        self.started_at = datetime.now(UTC)
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
                object_types=OBJECT_TYPES,
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
        seq = self.batches[object_type]
        self.batches[object_type] += 1
        built = ObservationBatch(
            id=f"{self.run_id}:{object_type}:{seq}",
            run_id=self.run_id,
            tenant_id=self.tenant_id,
            object_type=object_type,
            seq=seq,
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
            results=tuple(
                TypeResult(
                    object_type=t,
                    mode=self.mode,
                    reason=self.reason,  # type: ignore[arg-type]
                    status="Succeeded",
                    total=self.totals[t],
                    batches=self.batches[t],
                )
                for t in OBJECT_TYPES
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
        """(kind, object id) of the directory events a run produced, in order."""
        return [
            (e["type"].rsplit(".", 1)[1], e["subject"])
            for e in await self.events()
            if e["type"].startswith("io.entrasync.directory.") and e["data"]["run_id"] == run_id
        ]

    async def recorded(self, run_id: str, tenant_id: str = TENANT) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            try:
                msg = await self.js.get_last_msg(
                    self.names.events_stream, self.names.sync_recorded(tenant_id)
                )
            except NotFoundError:
                return None
            event = json.loads(msg.data)
            return event if event["data"]["run_id"] == run_id else None

        return await eventually(probe, f"SyncRecorded of run {run_id}")


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
