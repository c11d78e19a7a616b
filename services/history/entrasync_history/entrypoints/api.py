"""The request-reply API: one handler per `catalog.HistoryApi` endpoint, each one query.

`kit.ApiRouter` parses each request strictly into its catalog model (a refusal is `validation`,
with the `field`), answers `NotFound` with `not_found`, a MongoDB error with `unavailable` and
anything else with `internal`. A refused request changes nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from entrasync_shared.catalog import HistoryApi, NoArguments
from entrasync_shared.kit.api import ApiFailure, ApiRouter
from entrasync_shared.messages import (
    DeletedTenants,
    DeletedTenantsQuery,
    EffectiveMembers,
    EffectiveMemberships,
    EffectiveMembershipsQuery,
    EffectiveMembersQuery,
    GuardrailOverrideGrant,
    GuardrailOverrides,
    Health,
    HistoryCountsQuery,
    HistoryExportChunk,
    HistoryExportRequest,
    HistoryObjectQuery,
    HistoryObjectsQuery,
    HistoryRunsQuery,
    InventoryItem,
    Page,
    PrivilegedRoles,
    PrivilegedRolesQuery,
    TenantsStatusQuery,
    TenantsSyncStatus,
)
from pymongo.errors import PyMongoError

from entrasync_history.domain import csvexport
from entrasync_history.entrypoints.deps import Deps
from entrasync_history.usecases import effective_queries

log = logging.getLogger(__name__)

api = ApiRouter[Deps](
    "history",
    "entrasync history: inventory, sync history, change events",
    # Any database error, not only the outages the consumers retry: a refused query changes
    # nothing, and the caller may retry.
    outages=(PyMongoError,),
)


class NotFound(ApiFailure):
    """The request names something history does not hold."""

    code = "not_found"


def _now() -> datetime:
    return datetime.now(UTC)


@api.handles(HistoryApi.runs_list)
async def list_runs(query: HistoryRunsQuery, deps: Deps) -> Page[Any]:
    rows, total = await deps.queries.history_rows(query, _now())
    return Page(items=tuple(rows), total=total, page=query.page, page_size=query.page_size)


@api.handles(HistoryApi.runs_export)
async def export_runs(request: HistoryExportRequest, deps: Deps) -> HistoryExportChunk:
    rows, after = await deps.queries.export_chunk(request, _now())
    text = csvexport.encode(rows, header=request.after is None)
    return HistoryExportChunk(csv=text, rows=len(rows), next=after)


@api.handles(HistoryApi.objects_list)
async def list_objects(query: HistoryObjectsQuery, deps: Deps) -> Page[Any]:
    items, total = await deps.queries.inventory(query)
    return Page(items=tuple(items), total=total, page=query.page, page_size=query.page_size)


@api.handles(HistoryApi.objects_get)
async def get_object(query: HistoryObjectQuery, deps: Deps) -> InventoryItem:
    item = await deps.queries.inventory_item(query)
    if item is None:
        raise NotFound(f"no {query.object_type} {query.object_id} in tenant {query.tenant_id}")
    return item


@api.handles(HistoryApi.objects_counts)
async def count_objects(query: HistoryCountsQuery, deps: Deps) -> Any:
    return await deps.queries.inventory_counts(query.tenant_id)


@api.handles(HistoryApi.tenants_status)
async def tenants_status(query: TenantsStatusQuery, deps: Deps) -> TenantsSyncStatus:
    return TenantsSyncStatus(items=tuple(await deps.queries.tenants_status(query)))


@api.handles(HistoryApi.guardrail_override)
async def override_guardrail(grant: GuardrailOverrideGrant, deps: Deps) -> GuardrailOverrides:
    granted = await deps.queries.grant_override(grant, _now())
    log.warning(
        "guardrail override for tenant %s (%s) granted by %s: %s",
        grant.tenant_id,
        ", ".join(grant.object_types),
        grant.operator,
        grant.note or "no note",
    )
    return GuardrailOverrides(items=tuple(granted))


@api.handles(HistoryApi.tenants_deleted)
async def deleted_tenants(query: DeletedTenantsQuery, deps: Deps) -> DeletedTenants:
    return DeletedTenants(items=tuple(await deps.queries.deleted_tenants(query)))


@api.handles(HistoryApi.effective_members)
async def effective_members(query: EffectiveMembersQuery, deps: Deps) -> EffectiveMembers:
    found = await effective_queries.effective_members(deps.store.effective, query)
    if found is None:
        raise NotFound(
            f"no group, directory role or unit {query.container_id} in tenant {query.tenant_id}",
            "container_id",
        )
    return found


@api.handles(HistoryApi.effective_memberships)
async def effective_memberships(
    query: EffectiveMembershipsQuery, deps: Deps
) -> EffectiveMemberships:
    return await effective_queries.effective_memberships(deps.store.effective, query)


@api.handles(HistoryApi.privileged_roles)
async def privileged_roles(query: PrivilegedRolesQuery, deps: Deps) -> PrivilegedRoles:
    return await effective_queries.privileged_roles(deps.store.effective, query)


@api.handles(HistoryApi.health)
async def health(request: NoArguments, deps: Deps) -> Health:
    healthy, details = True, deps.stats.details()
    try:
        await deps.store.ping()
    except Exception as error:
        healthy = False
        details["mongodb"] = f"unreachable: {type(error).__name__}"
    return Health(service="history", ok=healthy, details=details)
