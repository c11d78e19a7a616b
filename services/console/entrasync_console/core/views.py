"""What the console composes from several services: tenant rows, live status, CSV export.

These are read models of the REST API and the UI; the records themselves stay in the services.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from entrasync_shared.catalog import ConfigApi, HistoryApi
from entrasync_shared.messages import (
    CredentialProfile,
    DeletedTenant,
    DeletedTenantsQuery,
    HistoryExportRequest,
    HistoryRow,
    HistoryRunsQuery,
    Model,
    Tenant,
    TenantRef,
    TenantsStatusQuery,
    TenantSyncStatus,
)
from entrasync_shared.natsutil import ApiCallError
from pydantic import Field

from entrasync_console.core.errors import Problem
from entrasync_console.ports import Services

log = logging.getLogger("entrasync.console")
STATUS_BATCH = 1000


class TenantView(Tenant):
    """A tenant policy with the tenant table's other columns: Profile and Last Sync."""

    profile_name: str | None = Field(default=None, description="Name of the credential profile")
    last_sync: TenantSyncStatus | None = Field(
        default=None, description="Last Sync Start and Status; null when it never ran"
    )
    last_sync_error: str | None = Field(
        default=None, description="Why `last_sync` is unknown (the history service is down)"
    )


class TenantStatus(Model):
    """A tenant's sync state for live display: its last run and that run's rows per type."""

    tenant_id: str
    running: bool = Field(description="A run of this tenant is in progress")
    last_sync: TenantSyncStatus | None = None
    run_rows: tuple[HistoryRow, ...] = Field(
        default=(), description="The newest run's Sync History rows (live counts while Running)"
    )


async def tenants_by_name(services: Services) -> list[Tenant]:
    """Every tenant, as lists show them: by name, ignoring case."""
    tenants = await services.call(ConfigApi.tenant_list)
    return sorted(tenants, key=lambda t: t.name.lower())


async def profiles_by_name(services: Services) -> list[CredentialProfile]:
    """Every credential profile, by name, ignoring case."""
    profiles = await services.call(ConfigApi.profile_list)
    return sorted(profiles, key=lambda p: p.name.lower())


async def last_syncs(
    services: Services, tenant_ids: Sequence[str]
) -> tuple[dict[str, TenantSyncStatus], str | None]:
    """Last sync per tenant id, and why they are unknown if history could not say."""
    found: dict[str, TenantSyncStatus] = {}
    try:
        for start in range(0, len(tenant_ids), STATUS_BATCH):
            chunk = tuple(tenant_ids[start : start + STATUS_BATCH])
            status = await services.call(
                HistoryApi.tenants_status, TenantsStatusQuery(tenant_ids=chunk)
            )
            found.update({item.tenant_id: item for item in status.items})
    except ApiCallError as err:
        log.warning("last sync status unavailable: %s", err)
        return {}, err.error.message
    return found, None


async def tenant_views(services: Services, tenants: Sequence[Tenant]) -> list[TenantView]:
    profiles = {profile.id: profile.name for profile in await services.call(ConfigApi.profile_list)}
    syncs, error = await last_syncs(services, [t.id for t in tenants]) if tenants else ({}, None)
    return [
        TenantView(
            **tenant.model_dump(),
            profile_name=profiles.get(tenant.profile_id),
            last_sync=syncs.get(tenant.id),
            last_sync_error=error,
        )
        for tenant in tenants
    ]


async def tenant_status(services: Services, tenant_id: str) -> TenantStatus:
    syncs, _ = await last_syncs(services, [tenant_id])
    last = syncs.get(tenant_id)
    page = await services.call(
        HistoryApi.runs_list, HistoryRunsQuery(tenant_id=tenant_id, page_size=50)
    )
    newest = last.last_run_id if last else (page.items[0].run_id if page.items else None)
    rows = tuple(row for row in page.items if row.run_id == newest)
    running = (last is not None and last.last_sync_status == "Running") or any(
        row.status == "Running" for row in rows
    )
    return TenantStatus(tenant_id=tenant_id, running=running, last_sync=last, run_rows=rows)


async def csv_chunks(
    services: Services, tenant_id: str, search: str, changes_only: bool = False
) -> tuple[str, AsyncIterator[str]]:
    """The first CSV chunk now (so errors become HTTP errors) and an iterator over the rest."""

    def asked(after: str | None = None) -> HistoryExportRequest:
        return HistoryExportRequest(
            tenant_id=tenant_id, search=search, changes_only=changes_only, after=after
        )

    first = await services.call(HistoryApi.runs_export, asked())

    async def rest(after: str | None) -> AsyncIterator[str]:
        while after is not None:
            try:
                chunk = await services.call(HistoryApi.runs_export, asked(after))
            except ApiCallError as err:
                # Headers are gone: all the client can see is a truncated file; say why in the log.
                log.error("CSV export of tenant %s stopped: %s", tenant_id, err)
                return
            yield chunk.csv
            after = chunk.next

    return first.csv, rest(first.next)


async def current_tenant(services: Services, tenant_id: str) -> Tenant:
    """A tenant's policy; a 404 that says where the history of a deleted tenant went."""
    try:
        return await services.call(ConfigApi.tenant_get, TenantRef(tenant_id=tenant_id[:64]))
    except ApiCallError as err:
        if err.error.code != "not_found":
            raise
        found = await services.call(
            HistoryApi.tenants_deleted, DeletedTenantsQuery(tenant_id=tenant_id[:64])
        )
        if not found.items:
            raise
        where = f"/api/v1/deleted-tenants/{found.items[0].tenant_id}/history"
        message = f"Tenant {tenant_id!r} was deleted; its kept Sync History is at {where}."
        raise Problem(404, "not_found", message) from None


async def deleted_tenant(services: Services, tenant_id: str) -> DeletedTenant:
    """A tenant deleted with its history kept; 404 unless history remembers it as one."""
    found = await services.call(
        HistoryApi.tenants_deleted, DeletedTenantsQuery(tenant_id=tenant_id[:64])
    )
    if not found.items:
        raise Problem(
            404, "not_found", f"There is no deleted tenant {tenant_id!r} with kept history."
        )
    return found.items[0]


@dataclass(frozen=True)
class RunGroup:
    """One run on the Sync History table: its rows, and what its one summary line shows."""

    run_id: str
    rows: tuple[HistoryRow, ...]

    @property
    def first(self) -> HistoryRow:
        return self.rows[0]

    @property
    def started_at(self) -> datetime:
        return self.first.started_at

    @property
    def finished_at(self) -> datetime | None:
        ends = [row.finished_at for row in self.rows]
        return None if None in ends else max(e for e in ends if e is not None)

    @property
    def types(self) -> str:
        return ", ".join(row.object_type for row in self.rows)

    @property
    def attempts(self) -> int:
        return max(row.attempts for row in self.rows)

    def sum(self, count: str) -> int:
        return sum(int(getattr(row, count)) for row in self.rows)

    @property
    def status(self) -> str:
        statuses = {row.status for row in self.rows}
        for worst in ("Running", "Failed", "Cancelled"):
            if worst in statuses:
                return worst
        return "Succeeded"

    @property
    def error(self) -> str | None:
        return next((row.error for row in self.rows if row.error), None)

    @property
    def mode(self) -> str:
        """`full (flag)`; types of one run may differ (a type resynced in full alone)."""
        modes = dict.fromkeys(mode_label(row) for row in self.rows)
        return ", ".join(modes)


def mode_label(row: HistoryRow) -> str:
    return f"{row.mode} ({row.reason})"


def run_groups(rows: Sequence[HistoryRow]) -> list[RunGroup]:
    """The page's rows, one group per run, in order (a run's rows are next to each other).

    A page holds `page_size` type rows, so a page boundary may cut a run: its rows then show on
    both pages.
    """
    groups: list[RunGroup] = []
    for row in rows:
        if groups and groups[-1].run_id == row.run_id:
            groups[-1] = RunGroup(row.run_id, (*groups[-1].rows, row))
        else:
            groups.append(RunGroup(row.run_id, (row,)))
    return groups
