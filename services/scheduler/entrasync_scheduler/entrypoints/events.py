"""The scheduler's event consumers: config's tenant events, `sync.recorded`, and Graph's change
notifications (`changeNotified`, from the receiver).

Each replica keeps its own view, so both are per-replica ordered JetStream consumers (they
recreate themselves after a gap or reconnect). Tenant events are read from now on: the start-up
and periodic reconcile with config's tenant list covers what a replica missed while away.
`sync.recorded` starts with the last record of every tenant, so a replica that (re)starts knows
which slots already ran.

Change notifications are work: one durable consumer shared by the replicas, so each notification
reaches one of them (replicas that heard of the same tenant within one coalescing window emit
the same round, which JetStream keeps once).
"""

from __future__ import annotations

from entrasync_shared import catalog
from entrasync_shared.kit.consumers import Delivery, DurableConsumer, OrderedConsumer, Outcome
from entrasync_shared.messages import (
    ChangeNotified,
    SyncRecordedEvent,
    TenantCreated,
    TenantDeleted,
    TenantUpdated,
)
from faststream.nats import DeliverPolicy

from entrasync_scheduler.usecases.scheduler import Scheduler

tenant_events = OrderedConsumer[Scheduler](
    "scheduler",
    "tenant_events",
    ("tenantCreated", "tenantUpdated", "tenantDeleted"),
    deliver_policy=DeliverPolicy.NEW,
)

sync_recorded = OrderedConsumer[Scheduler](
    "scheduler",
    "sync_recorded",
    ("syncRecorded",),
    # The last run of every tenant first: a replica that (re)starts knows which slots ran.
    deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
)

CONSUMERS = (tenant_events, sync_recorded)

notifications = DurableConsumer[Scheduler](catalog.durable("scheduler", "notifications"))


@tenant_events.handles
async def on_tenant_event(
    event: TenantCreated | TenantUpdated | TenantDeleted, scheduler: Scheduler
) -> None:
    if isinstance(event, TenantDeleted):
        scheduler.tenant_deleted(event.tenant_id)
    else:
        scheduler.tenant_changed(event.tenant)


@sync_recorded.handles
async def on_sync_recorded(event: SyncRecordedEvent, scheduler: Scheduler) -> None:
    scheduler.run_recorded(event.data)


@notifications.handles
async def on_change_notified(
    message: ChangeNotified, scheduler: Scheduler, delivery: Delivery
) -> Outcome:
    scheduler.notified(message)
    return None
