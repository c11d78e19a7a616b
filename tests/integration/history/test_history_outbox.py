"""history killed between committing a message and publishing its events, then restarted.

The first process is history's own use cases over the real MongoDB store, with an events
publisher that dies on its first call (the commit is done, nothing reached the stream). The
restarted process is the real app (`build_app`) on the same database and prefix. The events
come out exactly once, with the ids and bytes the first process committed, before the events of
anything newer of the same tenant.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from entrasync_devtools.infra import LocalInfra
from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_history.domain.events import OutgoingEvent
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.main import build_app
from entrasync_history.settings import Settings
from entrasync_history.usecases.pipeline import Context, apply_batch, record_finished
from entrasync_shared.messages import SyncStarted
from entrasync_shared.subjects import OBJECT_TYPES, Names
from faststream import FastStream
from history_helpers import Pipeline, Run, eventually, obj
from pydantic_core import to_json


class Killed(Exception):
    """The process died here."""


class DiesOnPublish:
    """An events publisher whose process is killed as it is about to publish: it only notes
    what it was given."""

    def __init__(self) -> None:
        self.given: list[OutgoingEvent] = []

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        self.given += events
        raise Killed


def killed_history(store: MongoHistoryStore, names: Names) -> tuple[Context, DiesOnPublish]:
    publisher = DiesOnPublish()
    guardrail = GuardrailPolicy(max_ratio=1.0, min_objects=1_000_000)
    return Context(store, publisher, names, guardrail, finish_max_waits=1), publisher


def restarted(infra: LocalInfra, names: Names, db_name: str) -> FastStream:
    """The real history service on the killed one's database and prefix."""
    return build_app(
        Settings(
            ENTRASYNC_NATS_URL=infra.nats_url,
            ENTRASYNC_MONGODB_URI=infra.mongodb_uri,
            ENTRASYNC_PREFIX=names.prefix,
            ENTRASYNC_HISTORY_DB=db_name,
            ENTRASYNC_HISTORY_FINISH_WAIT_SECONDS=0.2,
        )
    )


def stored(events: Sequence[OutgoingEvent]) -> list[tuple[str, bytes]]:
    """(msg id, payload) as the stream should hold them."""
    return [(event.msg_id, to_json(event.envelope)) for event in events]


async def on_stream(pipeline: Pipeline) -> list[tuple[str, bytes]]:
    messages = await pipeline.stream_messages(pipeline.names.events_stream)
    return [(headers["Nats-Msg-Id"], data) for _, headers, data in messages]


async def test_events_committed_before_a_kill_come_out_once_with_their_ids_after_a_restart(
    infra: LocalInfra,
    names: Names,
    db_name: str,
    store: MongoHistoryStore,
    pipeline: Pipeline,
    db: Any,
) -> None:
    ctx, died = killed_history(store, names)
    run = Run(pipeline, "delta")
    users = run.batch("user", [obj("u1", displayName="U1"), obj("u2", displayName="U2")])
    devices = run.batch("device", [obj("d1", displayName="D1")])
    with pytest.raises(Killed):
        await apply_batch(ctx, users, datetime.now(UTC))
    with pytest.raises(Killed):  # the tenant's next message: killed before publishing again
        await apply_batch(ctx, devices, datetime.now(UTC))
    committed = stored(died.given)
    # The second publish took the tenant's whole outbox: the users' events, then the device's.
    assert committed[2:] == [*committed[:2], committed[-1]] and len(committed) == 5
    assert [doc["count"] async for doc in db["outbox"].find()] == [2, 1]  # per commit
    assert await on_stream(pipeline) == []

    async with restarted(infra, names, db_name):
        # The outbox goes out at startup, in commit order; then the batch comes back unacked,
        # and a newer message of the tenant is applied after it.
        await pipeline.publish_batch(users)
        await pipeline.publish_batch(devices)
        newer = await run.send("user", [obj("u3", displayName="U3")])
        await run.finish()

        async def everything() -> list[tuple[str, bytes]] | None:
            found = await on_stream(pipeline)
            return found if len(found) == 3 + 1 + 1 else None

        published = await eventually(everything, "the outbox, the newer batch and the record")
    assert published[:3] == committed[2:]
    assert [_json(payload)["subject"] for _, payload in published[3:]] == ["u3", run.run_id]
    assert len({msg_id for msg_id, _ in published}) == len(published)
    assert await db["outbox"].count_documents({}) == 0
    assert newer.id in {doc["_id"] async for doc in db["applied_batches"].find()}


async def test_a_run_recorded_before_a_kill_is_announced_once_after_a_restart(
    infra: LocalInfra,
    names: Names,
    db_name: str,
    store: MongoHistoryStore,
    pipeline: Pipeline,
    db: Any,
) -> None:
    ctx, died = killed_history(store, names)
    run = Run(pipeline, "full")
    await store.record_started(_started(run))
    users = run.batch("user", [obj("u1", displayName="U1")])
    with pytest.raises(Killed):
        await apply_batch(ctx, users, datetime.now(UTC))
    with pytest.raises(Killed):
        await record_finished(ctx, run.finished(), 1, datetime.now(UTC))
    committed = stored(died.given)
    assert [_json(payload)["type"] for _, payload in committed] == [
        "io.entrasync.directory.user.created",
        "io.entrasync.directory.user.created",  # the finish's publish takes the outbox as it is
        "io.entrasync.sync.recorded",
    ]

    async with restarted(infra, names, db_name):
        await pipeline.publish(names.run_event(run.tenant_id, "finished"), run.finished())
        recorded = await pipeline.recorded(run.run_id, run.tenant_id)

        async def both() -> list[tuple[str, bytes]] | None:
            found = await on_stream(pipeline)
            return found if len(found) == 2 else None

        published = await eventually(both, "the user's creation and the run's record")
    assert published == committed[1:]
    assert recorded["id"] == f"recorded:{run.run_id}"
    assert await db["outbox"].count_documents({}) == 0


def _json(payload: bytes) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(payload)
    return result


def _started(run: Run) -> SyncStarted:
    return SyncStarted(
        run_id=run.run_id,
        tenant_id=run.tenant_id,
        mode=run.mode,
        reason="first",
        object_types=OBJECT_TYPES,
        at=run.started_at,
    )
