"""Subscribers: translate a message, call one use case, decide the ack.

Ack mapping on the pipeline consumer: applied (or already applied) → ack; malformed (including
values MongoDB cannot store) → parked on the dead-letter subject, then ack; finish waiting for
its batches → nak with a short delay; MongoDB/NATS unavailable → nak with a delay, without limit;
any other error → nak with a delay until `max_failed_deliveries`, then parked (`settle_failure`),
so nothing is ever dropped and nothing is retried forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias, TypeVar

from entrasync_shared.deadletter import one_line, settle_failure
from entrasync_shared.messages import (
    Health,
    ObservationBatch,
    Reply,
    SyncFinished,
    SyncStarted,
    TenantDeleted,
)
from entrasync_shared.natsutil import ok
from entrasync_shared.storable import unstorable
from entrasync_shared.subjects import OBJECT_TYPES, Names
from faststream import AckPolicy
from faststream.nats import DeliverPolicy, JStream, NatsBroker, NatsMessage, PullSub
from nats.js.api import ConsumerConfig
from pydantic import ValidationError

from entrasync_history.entrypoints import api
from entrasync_history.adapters.mongo_outages import MONGO_OUTAGES
from entrasync_history.usecases import deletions, pipeline as services
from entrasync_history.ports import DeadLetters, HistoryQueries, HistoryStore

log = logging.getLogger(__name__)

PipelineMessage: TypeAlias = ObservationBatch | SyncStarted | SyncFinished
MessageT = TypeVar("MessageT", bound=PipelineMessage)
API_QUEUE = "entrasync-history"


class Malformed(Exception):
    """A pipeline message history cannot read; the text says why."""


@dataclass
class Stats:
    """What this process did since it started (shown by the health API)."""

    applied: int = 0
    recorded: int = 0
    dead_lettered: int = 0
    retried: int = 0
    dropped: int = 0  # pipeline messages of deleted tenants
    swept: int = 0  # documents of purged tenants erased again by the sweep


@dataclass(frozen=True)
class Deps:
    names: Names
    ctx: services.Context
    store: HistoryStore
    queries: HistoryQueries
    dead_letters: DeadLetters
    retry_delay: float
    finish_wait: float
    max_failed_deliveries: int = 5
    stats: Stats = field(default_factory=Stats)


def parse_pipeline(names: Names, subject: str, payload: bytes) -> PipelineMessage:
    """The typed message, told apart by subject; raises `Malformed`."""
    base = names.pipeline_all.removesuffix(">")
    parts = subject.removeprefix(base).split(".") if subject.startswith(base) else []
    try:
        match parts:
            case ["observed", tenant_id, object_type] if object_type in OBJECT_TYPES:
                batch = ObservationBatch.model_validate_json(payload)
                if (batch.tenant_id, batch.object_type) != (tenant_id, object_type):
                    raise Malformed(f"batch for {batch.tenant_id}/{batch.object_type} on {subject}")
                return _storable(batch)
            case ["run", tenant_id, "started"]:
                started = SyncStarted.model_validate_json(payload)
                return _storable(_check_tenant(started, tenant_id, subject))
            case ["run", tenant_id, "finished"]:
                finished = SyncFinished.model_validate_json(payload)
                return _storable(_check_tenant(finished, tenant_id, subject))
    except ValidationError as error:
        raise Malformed(f"invalid payload: {error}") from error
    raise Malformed(f"unexpected subject {subject}")


def _storable(message: MessageT) -> MessageT:
    """`message` unless it holds something MongoDB refuses: such a write would fail the same
    way on every delivery."""
    problem = unstorable(message.model_dump(mode="json", exclude={"objects"}))
    if problem is None and isinstance(message, ObservationBatch):
        for observed in message.objects:
            problem = unstorable(observed.attributes)
            if problem is not None:
                problem = f"object {observed.id!r}: attributes {problem}"
                break
    if problem is not None:
        raise Malformed(f"cannot be stored: {problem}")
    return message


def _check_tenant(
    message: SyncStarted | SyncFinished, tenant_id: str, subject: str
) -> SyncStarted | SyncFinished:
    if message.tenant_id != tenant_id:
        raise Malformed(f"run event for tenant {message.tenant_id} on {subject}")
    return message


async def _park(deps: Deps, msg: NatsMessage, error: Malformed, dedupe_prefix: str) -> None:
    """Dead-letter an unreadable message, then ack it (nak if parking fails)."""
    raw = msg.raw_message
    sequence = raw.metadata.sequence.stream
    reason = one_line(str(error))
    log.error("dead-lettering message #%s on %s: %s", sequence, raw.subject, reason)
    try:
        await deps.dead_letters.park(raw.data, raw.subject, reason, dedupe_prefix + str(sequence))
    except Exception as park_error:
        log.warning("could not dead-letter message #%s, retrying later: %r", sequence, park_error)
        await msg.nack(delay=deps.retry_delay)
        return
    deps.stats.dead_lettered += 1
    await msg.ack()


async def _settle(deps: Deps, msg: NatsMessage, error: Exception, dedupe_prefix: str) -> None:
    """A failed message: retried (an outage: without limit), or parked after too many tries."""
    sequence = msg.raw_message.metadata.sequence.stream
    verdict = await settle_failure(
        msg,
        error,
        deps.dead_letters,
        limit=deps.max_failed_deliveries,
        delay=deps.retry_delay,
        msg_id=dedupe_prefix + str(sequence),
        also=MONGO_OUTAGES,
    )
    if verdict == "park":
        deps.stats.dead_lettered += 1
    else:
        deps.stats.retried += 1


async def handle_pipeline(deps: Deps, msg: NatsMessage) -> None:
    raw = msg.raw_message
    try:
        message = parse_pipeline(deps.names, raw.subject, raw.data)
    except Malformed as error:
        await _park(deps, msg, error, "history:")
        return
    now = datetime.now(UTC)
    try:
        if await deletions.is_buried(deps.ctx, message.tenant_id):
            deps.stats.dropped += 1
            log.info("dropping %s: tenant %s was deleted", message.id, message.tenant_id)
            await msg.ack()
            return
        match message:
            case ObservationBatch():
                deps.stats.applied += await services.apply_batch(deps.ctx, message, now)
            case SyncStarted():
                await services.record_started(deps.ctx, message)
            case SyncFinished():
                deliveries = raw.metadata.num_delivered or 1
                if await services.record_finished(deps.ctx, message, deliveries, now) is None:
                    log.info("run %s: waiting for its batches", message.run_id)
                    await msg.nack(delay=deps.finish_wait)
                    return
                deps.stats.recorded += 1
    except Exception as error:
        await _settle(deps, msg, error, "history:")
        return
    await msg.ack()


async def handle_tenant_deleted(deps: Deps, msg: NatsMessage) -> None:
    """config's `tenant.deleted`: purge the tenant's data when asked, else cancel its runs."""
    try:
        deleted = TenantDeleted.model_validate_json(msg.raw_message.data)
    except ValidationError as error:
        await _park(deps, msg, Malformed(f"invalid payload: {error}"), "history:config:")
        return
    problem = unstorable(deleted.model_dump(mode="json"))
    if problem is not None:
        await _park(deps, msg, Malformed(f"cannot be stored: {problem}"), "history:config:")
        return
    try:
        await deletions.bury_tenant(deps.ctx, deleted)
    except Exception as error:
        await _settle(deps, msg, error, "history:config:")
        return
    await msg.ack()


async def sweep_purged_forever(deps: Deps, every: float) -> None:
    """Every `every` seconds, erase what a purged tenant still has (a failed sweep is retried
    at the next one)."""
    while True:
        await asyncio.sleep(every)
        try:
            found = await deletions.sweep_purged(deps.ctx)
        except Exception as error:
            log.warning("sweep of purged tenants failed, retrying later: %r", error)
            continue
        deps.stats.swept += sum(found.values())


async def health(deps: Deps) -> Reply[Any]:
    healthy = True
    details = {name: str(value) for name, value in vars(deps.stats).items()}
    try:
        await deps.store.ping()
    except Exception as error:
        healthy = False
        details["mongodb"] = f"unreachable: {type(error).__name__}"
    return ok(Health(service="history", ok=healthy, details=details))


def register(broker: NatsBroker, deps: Deps) -> None:
    names = deps.names

    @broker.subscriber(
        names.pipeline_all,
        stream=JStream(names.pipeline_stream, declare=False),
        durable=names.consumer("history", "pipeline"),
        deliver_policy=DeliverPolicy.ALL,
        # One message at a time, in stream order: FastStream runs a fetched batch concurrently.
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        inbox_prefix=names.pull_inbox,
        ack_policy=AckPolicy.MANUAL,
        config=ConsumerConfig(ack_wait=120, max_deliver=-1),
        title="history/pipeline",
    )
    async def on_pipeline_message(msg: NatsMessage) -> None:
        await handle_pipeline(deps, msg)

    @broker.subscriber(
        names.tenant_event("deleted"),
        stream=JStream(names.config_stream, declare=False),
        durable=names.consumer("history", "tenant-deleted"),
        deliver_policy=DeliverPolicy.ALL,
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        inbox_prefix=names.pull_inbox,
        ack_policy=AckPolicy.MANUAL,
        config=ConsumerConfig(ack_wait=300, max_deliver=-1),
        title="history/tenant-deleted",
    )
    async def on_tenant_deleted(msg: NatsMessage) -> None:
        await handle_tenant_deleted(deps, msg)

    @broker.subscriber(names.api("history", "health"), queue=API_QUEUE)
    async def on_health_request(msg: NatsMessage) -> Reply[Any]:
        return await health(deps)

    answers: dict[str, Callable[[HistoryQueries, bytes], Awaitable[Reply[Any]]]] = {
        "runs.list": api.list_runs,
        "runs.export": api.export_runs,
        "objects.list": api.list_objects,
        "objects.get": api.get_object,
        "objects.counts": api.count_objects,
        "tenants.status": api.tenants_status,
        "guardrail.override": api.override_guardrail,
        "tenants.deleted": api.deleted_tenants,
    }
    for verb, respond in answers.items():
        _register_api(broker, deps, verb, respond)


def _register_api(
    broker: NatsBroker,
    deps: Deps,
    verb: str,
    respond: Callable[[HistoryQueries, bytes], Awaitable[Reply[Any]]],
) -> None:
    @broker.subscriber(
        deps.names.api("history", verb), queue=API_QUEUE, title=f"history/api/{verb}"
    )
    async def on_api_request(msg: NatsMessage) -> Reply[Any]:
        return await respond(deps.queries, msg.raw_message.data)
