"""The pipeline consumer: a run's start, its observation batches and its finish, in order.

The kit parses each message into its catalog model (parking what does not parse) and acks as
this handler decides: applied (or already applied) → ack; a message that disagrees with its
subject or holds a value MongoDB cannot store → `Malformed` (parked, then acked); a finish
whose batches are not all applied → held in the store, then acked (`usecases.finishes`: a nak
would hold the batches behind it back); MongoDB/NATS unavailable → retried without limit; any
other error → retried until `max_failed_deliveries`, then parked.

Partitions: the pipeline stream puts each tenant in one of `PIPELINE_PARTITIONS` partitions,
each with its own durable, and every history replica pulls from all of them; so up to that many
messages (of different tenants) are applied at once, spread over the replicas.

Order: each partition's durable has `max_ack_pending=1`, so JetStream hands out no later
message of the partition while one waits for its ack, to whichever replica — not even when the
replica holding it died: the killed message comes back (after `ack_wait`) before anything newer,
to a replica still alive. A long apply keeps its message in progress (`keepalive`), so
`ack_wait` can stay short. Within a process, a tenant's lock also keeps the held-finish and
outbox loops off a tenant while one of its messages is applied.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TypeAlias, TypeVar

from entrasync_shared import catalog
from entrasync_shared.kit.consumers import Delivery, DurableConsumer, Malformed, parse
from entrasync_shared.messages import ObservationBatch, SyncFinished, SyncStarted
from entrasync_shared.storable import unstorable
from entrasync_shared.subjects import OBJECT_TYPES, Names

from entrasync_history.adapters import metrics
from entrasync_history.entrypoints.deps import Deps
from entrasync_history.usecases import deletions, finishes
from entrasync_history.usecases import pipeline as usecases

log = logging.getLogger(__name__)

PipelineMessage: TypeAlias = ObservationBatch | SyncStarted | SyncFinished
MessageT = TypeVar("MessageT", bound=PipelineMessage)

PIPELINE_ACK_WAIT = 30.0
"""How long a message handed to a history that died is held back (a live one keeps it in
progress): the default of `ENTRASYNC_HISTORY_PIPELINE_ACK_WAIT_SECONDS`."""

pipelines = tuple(
    DurableConsumer[Deps](
        durable,
        ack_wait=PIPELINE_ACK_WAIT,
        # One unacked message per partition: a message a replica was killed on is redelivered
        # before any later one of its partition, so a stale batch never lands after newer state.
        max_ack_pending=1,
    )
    for durable in catalog.partitions("history", "pipeline")
)
pipeline = pipelines[0]
"""The first partition's consumer (they all share `on_pipeline`)."""


async def on_pipeline(message: PipelineMessage, deps: Deps, delivery: Delivery) -> None:
    message = checked(deps.names, delivery.subject, message)
    async with deps.locks.hold(message.tenant_id):  # the held-finish and outbox loops wait
        await _apply(message, deps, delivery)


for _consumer in pipelines:
    _consumer.handles(on_pipeline)


async def _apply(message: PipelineMessage, deps: Deps, delivery: Delivery) -> None:
    now = datetime.now(UTC)
    if await deletions.is_buried(deps.ctx, message.tenant_id):
        deps.stats.dropped += 1
        log.info("dropping %s: tenant %s was deleted", message.id, message.tenant_id)
        return
    match message:
        case ObservationBatch():
            with metrics.applying(message.object_type):
                deps.stats.applied += await usecases.apply_batch(deps.ctx, message, now)
            # A finish held for this batch may go through now.
            held = await finishes.retry_held(deps.ctx, now, tenant_id=message.tenant_id)
            deps.stats.recorded += len(held)
        case SyncStarted():
            await usecases.record_started(deps.ctx, message)
        case SyncFinished():
            deliveries = delivery.deliveries
            if await finishes.finish_or_hold(deps.ctx, message, deliveries, now) is not None:
                deps.stats.recorded += 1


def parse_pipeline(names: Names, subject: str, payload: bytes) -> PipelineMessage:
    """The typed message as the consumer reads it (the kit's parse, then `checked`)."""
    message = parse(pipeline.flows, names, subject, payload)
    assert isinstance(message, ObservationBatch | SyncStarted | SyncFinished)
    return checked(names, subject, message)


def checked(names: Names, subject: str, message: MessageT) -> MessageT:
    """`message` if it agrees with its subject and MongoDB can store it; raises `Malformed`."""
    base = names.pipeline_all.removesuffix(">")
    parts = subject.removeprefix(base).split(".") if subject.startswith(base) else []
    match parts, message:
        case ["observed", tenant_id, object_type], ObservationBatch() if (
            object_type in OBJECT_TYPES
        ):
            if (message.tenant_id, message.object_type) != (tenant_id, object_type):
                raise Malformed(f"batch for {message.tenant_id}/{message.object_type} on {subject}")
        case (["run", tenant_id, "started"], SyncStarted()) | (
            ["run", tenant_id, "finished"],
            SyncFinished(),
        ):
            if message.tenant_id != tenant_id:
                raise Malformed(f"run event for tenant {message.tenant_id} on {subject}")
        case _:
            raise Malformed(f"unexpected subject {subject}")
    return _storable(message)


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
