"""What `entrasync-ctl` does over NATS, without any printing (the CLI renders the results), and
the services' health checks (the REST API's too)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from entrasync_shared.catalog import (
    SERVICES,
    ConfigApi,
    Endpoint,
    HistoryApi,
    NoArguments,
    SchedulerApi,
    endpoint,
)
from entrasync_shared.messages import (
    ApiError,
    CredentialProfile,
    Health,
    HistoryRow,
    HistoryRunsQuery,
    SyncNow,
    SyncNowAccepted,
    Tenant,
    TenantsStatusQuery,
    TenantSyncStatus,
)
from entrasync_shared.natsutil import ApiCallError
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, DeliverPolicy

from entrasync_console.ports import Services

HEALTH: Final[dict[str, Endpoint[NoArguments, Health]]] = {
    service: endpoint(service, "health") for service in SERVICES
}
"""Every service's health verb, by service name."""
HEALTH_TIMEOUT = 2.0
"""A health check that takes longer than this says enough."""


def not_found(what: str, ref: str) -> ApiCallError:
    return ApiCallError(ApiError(code="not_found", message=f"no {what} {ref!r}"))


async def find_tenant(services: Services, ref: str) -> Tenant:
    """A tenant by id, name, the domain/GUID it was added by, or its resolved directory GUID
    (case-insensitive)."""
    tenants = await services.call(ConfigApi.tenant_list)
    for tenant in tenants:
        if tenant.id == ref:
            return tenant
    wanted = ref.strip().lower()
    matches = [
        t for t in tenants if wanted in (t.name.lower(), t.tenant.lower(), t.entra_tenant_id)
    ]
    if len(matches) > 1:
        ids = ", ".join(t.id for t in matches)
        error = ApiError(code="conflict", message=f"{ref!r} names several tenants: {ids}")
        raise ApiCallError(error)
    if not matches:
        raise not_found("tenant", ref)
    return matches[0]


async def find_profile(services: Services, ref: str) -> CredentialProfile:
    """A credential profile by id or name."""
    profiles = await services.call(ConfigApi.profile_list)
    for profile in profiles:
        if ref in (profile.id, profile.name):
            return profile
    matches = [p for p in profiles if p.name.lower() == ref.strip().lower()]
    if not matches:
        raise not_found("credential profile", ref)
    return matches[0]


@dataclass
class RunProgress:
    """What `sync now --wait` knows at one moment about the run it follows."""

    run_id: str | None
    rows: tuple[HistoryRow, ...] = ()
    last: TenantSyncStatus | None = None

    @property
    def finished(self) -> bool:
        return (
            self.last is not None
            and self.last.last_run_id == self.run_id
            and self.last.last_sync_status != "Running"
        )

    @property
    def status(self) -> str:
        if self.last is not None and self.last.last_run_id == self.run_id:
            return self.last.last_sync_status
        return "Queued"

    def rate(self, row: HistoryRow, now: datetime | None = None) -> str:
        """Objects per second of one type's row: so far while it runs, overall once done."""
        end = row.finished_at or now or datetime.now(UTC)
        seconds = (end - row.started_at).total_seconds()
        objects = row.total if row.finished_at else row.received
        return f"{objects / seconds:,.0f}" if seconds > 0 and objects else "—"


async def last_sync(services: Services, tenant_id: str) -> TenantSyncStatus | None:
    status = await services.call(
        HistoryApi.tenants_status, TenantsStatusQuery(tenant_ids=(tenant_id,))
    )
    return next((s for s in status.items if s.tenant_id == tenant_id), None)


async def follow_run(
    services: Services,
    tenant_id: str,
    accepted: SyncNowAccepted,
    on_progress: Callable[[RunProgress], None],
    timeout: float,
    interval: float = 0.5,
) -> RunProgress:
    """Poll history until the run `sync_now` queued is recorded; raise TimeoutError after
    `timeout` seconds. A deferred request follows the run that starts after `after_run`."""
    deadline = time.monotonic() + timeout
    progress = RunProgress(accepted.run_id)
    while True:
        progress.last = await last_sync(services, tenant_id)
        if progress.run_id is None and progress.last is not None:
            if progress.last.last_run_id != accepted.after_run:
                progress.run_id = progress.last.last_run_id
        if progress.run_id is not None:
            page = await services.call(
                HistoryApi.runs_list, HistoryRunsQuery(tenant_id=tenant_id, page_size=50)
            )
            progress.rows = tuple(r for r in page.items if r.run_id == progress.run_id)
        on_progress(progress)
        if progress.finished:
            return progress
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {progress.run_id or '(not started)'} not recorded in time")
        await asyncio.sleep(interval)


async def health(services: Services, service: str) -> Health:
    return await services.call(HEALTH[service], timeout=HEALTH_TIMEOUT)


async def sync_now(services: Services, tenant_id: str) -> SyncNowAccepted:
    return await services.call(SchedulerApi.sync_now, SyncNow(tenant_id=tenant_id))


def events_subject(names: Names, tenant_id: str | None, object_type: str | None) -> str:
    base = names.directory_events.removesuffix(">")
    return f"{base}{tenant_id or '*'}.{object_type or '*'}.*"


async def tail_events(
    nc: NatsClient,
    names: Names,
    tenant_id: str | None,
    object_type: str | None,
    from_start: bool,
) -> AsyncGenerator[dict[str, Any], None]:
    """Public change events (CloudEvents envelopes) as they arrive, oldest first."""
    js = nc.jetstream()
    policy = DeliverPolicy.ALL if from_start else DeliverPolicy.NEW
    sub = await js.subscribe(
        events_subject(names, tenant_id, object_type),
        stream=names.events_stream,
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=policy),
    )
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except TimeoutError:
                continue
            with contextlib.suppress(ValueError):
                yield json.loads(msg.data)
    finally:
        await sub.unsubscribe()


async def discover(nc: NatsClient, names: Names, wait: float = 0.75) -> list[dict[str, Any]]:
    """Every service instance answering the NATS micro protocol's `$SRV.STATS` (this prefix)."""
    inbox = nc.new_inbox()
    found: list[dict[str, Any]] = []
    sub = await nc.subscribe(inbox)
    try:
        await nc.publish("$SRV.STATS", b"", reply=inbox)
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await sub.next_msg(timeout=left)
            except TimeoutError:
                break
            with contextlib.suppress(ValueError):
                found.append(json.loads(msg.data))
    finally:
        await sub.unsubscribe()
    mine = [
        s for s in found if (s.get("metadata") or {}).get("prefix", names.prefix) == names.prefix
    ]
    return sorted(mine, key=lambda s: (str(s.get("name")), str(s.get("id"))))
