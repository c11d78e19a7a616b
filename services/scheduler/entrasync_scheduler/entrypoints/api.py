"""The scheduler's request-reply API (catalog: `SchedulerApi`); one replica answers each call."""

from __future__ import annotations

import uuid

from entrasync_shared.catalog import NoArguments, SchedulerApi
from entrasync_shared.kit.api import ApiFailure, ApiRouter
from entrasync_shared.messages import (
    Health,
    SubscriptionRecord,
    SyncNow,
    SyncNowAccepted,
    TenantRef,
)
from entrasync_shared.natsutil import ApiCallError

from entrasync_scheduler.usecases.scheduler import Scheduler, TenantDisabled, UnknownTenant

# `sync_now` may first ask config for its tenant list: config not answering is an outage.
api = ApiRouter[Scheduler](
    "scheduler", "Runs tenants' syncs on schedule, or now.", outages=(ApiCallError,)
)


@api.handles(SchedulerApi.health)
async def health(request: NoArguments, scheduler: Scheduler) -> Health:
    return scheduler.health()


@api.handles(SchedulerApi.sync_now)
async def sync_now(request: SyncNow, scheduler: Scheduler) -> SyncNowAccepted:
    try:
        return await scheduler.sync_now(request.tenant_id, uuid.uuid4().hex[:12])
    except UnknownTenant as err:
        raise ApiFailure(str(err), "tenant_id", code="not_found") from None
    except TenantDisabled as err:
        raise ApiFailure(str(err), "tenant_id", code="conflict") from None


@api.handles(SchedulerApi.subscriptions_list)
async def subscriptions_list(request: TenantRef, scheduler: Scheduler) -> list[SubscriptionRecord]:
    return scheduler.subscriptions_of(request.tenant_id)
