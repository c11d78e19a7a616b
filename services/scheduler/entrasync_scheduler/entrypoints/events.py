"""The scheduler's subscribers: config tenant events, `sync.recorded`, and its health API.

Each replica keeps its own view, so both event subscriptions are per-replica ordered JetStream
consumers (they recreate themselves after a gap or reconnect). Tenant events are read from now
on: the start-up and periodic reconcile with config's tenant list covers what a replica missed
while away. `sync.recorded` starts with the last record of every tenant, so a replica that
(re)starts knows which slots already ran. `sync_now` is answered by one replica (queue group).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from entrasync_shared.deadletter import DeadLetters
from entrasync_shared.messages import (
    Reply,
    SyncNow,
    SyncRecordedEvent,
    TenantCreated,
    TenantDeleted,
    TenantUpdated,
)
from entrasync_shared.natsutil import failed, ok
from entrasync_shared.subjects import Names
from faststream.nats import DeliverPolicy, JStream, NatsBroker
from faststream.nats.annotations import NatsMessage
from pydantic import BaseModel, ValidationError

from entrasync_scheduler.service import Scheduler, TenantDisabled, UnknownTenant

log = logging.getLogger("entrasync.scheduler")

TENANT_EVENTS: dict[str, type[BaseModel]] = {
    "created": TenantCreated,
    "updated": TenantUpdated,
    "deleted": TenantDeleted,
}


def register(broker: NatsBroker, names: Names, scheduler: Scheduler) -> None:
    dead_letters = DeadLetters(broker, names, "scheduler")

    async def park(msg: NatsMessage, stream: str, reason: str) -> None:
        raw = msg.raw_message
        msg_id = f"scheduler:{stream}:{raw.metadata.sequence.stream}"
        await dead_letters.park(msg.body, raw.subject, reason, msg_id)

    @broker.subscriber(
        names.tenant_events,
        stream=JStream(names.config_stream, declare=False),
        deliver_policy=DeliverPolicy.NEW,
        ordered_consumer=True,
        title="scheduler.tenant_events",
    )
    async def on_tenant_event(msg: NatsMessage) -> None:
        kind = msg.raw_message.subject.rsplit(".", 1)[-1]
        model = TENANT_EVENTS.get(kind)
        if model is None:
            await park(msg, names.config_stream, f"unknown tenant event kind {kind!r}")
            return
        try:
            event = model.model_validate_json(msg.body)
        except ValidationError as err:
            reason = f"not a {model.__name__}: {err.errors()[0]['msg']}"
            await park(msg, names.config_stream, reason)
            return
        if isinstance(event, TenantDeleted):
            scheduler.tenant_deleted(event.tenant_id)
        elif isinstance(event, TenantCreated | TenantUpdated):
            scheduler.tenant_changed(event.tenant)

    @broker.subscriber(
        names.sync_recorded_all,
        stream=JStream(names.events_stream, declare=False),
        # The last run of every tenant first: a replica that (re)starts knows which slots ran.
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        ordered_consumer=True,
        title="scheduler.sync_recorded",
    )
    async def on_sync_recorded(msg: NatsMessage) -> None:
        try:
            recorded = SyncRecordedEvent.model_validate_json(msg.body).data
        except ValidationError as err:
            await park(msg, names.events_stream, f"not a SyncRecorded: {err.errors()[0]['msg']}")
            return
        scheduler.run_recorded(recorded)

    @broker.subscriber(names.api("scheduler", "health"), queue="entrasync-scheduler")
    async def on_health(msg: NatsMessage) -> Reply[Any]:
        return ok(scheduler.health())

    @broker.subscriber(names.api("scheduler", "sync_now"), queue="entrasync-scheduler")
    async def on_sync_now(msg: NatsMessage) -> Reply[Any]:
        try:
            request = SyncNow.model_validate_json(msg.body or b"{}")
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or None
            return failed("validation", str(first.get("msg", "invalid request")), where)
        try:
            accepted = await scheduler.sync_now(request.tenant_id, uuid.uuid4().hex[:12])
        except UnknownTenant as err:
            return failed("not_found", str(err), "tenant_id")
        except TenantDisabled as err:
            return failed("conflict", str(err), "tenant_id")
        except Exception as err:
            log.warning("sync_now for %s failed: %r", request.tenant_id, err)
            return failed("unavailable", "config or NATS did not answer; try again")
        return ok(accepted)
