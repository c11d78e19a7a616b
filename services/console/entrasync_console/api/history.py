"""Sync History (JSON pages and CSV) and the synced objects of a tenant.

Tenants deleted without erasing their history keep it readable under `/deleted-tenants`.
"""

from __future__ import annotations

from typing import Annotated, Any

from entrasync_shared.catalog import ConfigApi, HistoryApi
from entrasync_shared.messages import (
    HISTORY_PAGE_SIZES,
    DeletedTenant,
    DeletedTenants,
    DeletedTenantsQuery,
    HistoryObjectsQuery,
    HistoryRow,
    HistoryRunsQuery,
    InventoryItem,
    Page,
    TenantRef,
)
from entrasync_shared.subjects import ObjectType
from fastapi import Query, Request
from fastapi.responses import StreamingResponse

from entrasync_console.api.common import Id, Search, build, router, services
from entrasync_console.core import views
from entrasync_console.core.privileged import PRIVILEGED_SEARCH

PAGE_SIZE_DOC = {"enum": list(HISTORY_PAGE_SIZES)}
ChangesOnly = Annotated[
    bool,
    Query(
        description="Only runs that changed or deleted something, failed, were cancelled or "
        "are still running (the console's default view hides all-zero rounds)"
    ),
]
PrivilegedOnly = Annotated[
    bool,
    Query(
        description="Only the directory roles' rows (instead of `search`): Sync History counts "
        "objects per type; who holds a role is at `/tenants/{id}/privileged`"
    ),
]
Page_ = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(json_schema_extra=PAGE_SIZE_DOC)]


def runs_query(
    tenant_id: str, page: int, page_size: int, search: str, changes_only: bool
) -> HistoryRunsQuery:
    """The history query of a page route (a 422 for bad values, before anything is looked up)."""
    return build(
        HistoryRunsQuery,
        tenant_id=tenant_id,
        page=page,
        page_size=page_size,
        search=search,
        changes_only=changes_only,
    )


@router.get(
    "/tenants/{tenant_id}/history",
    response_model=Page[HistoryRow],
    tags=["history"],
    summary="Sync History, newest first: one row per object type of each run",
    operation_id="listHistory",
)
async def history(
    request: Request,
    tenant_id: Id,
    page: Page_ = 1,
    page_size: PageSize = 50,
    search: Search = "",
    changes_only: ChangesOnly = False,
    privileged: PrivilegedOnly = False,
) -> Page[HistoryRow]:
    search = PRIVILEGED_SEARCH if privileged else search
    query = runs_query(tenant_id, page, page_size, search, changes_only)
    backend = services(request)
    await views.current_tenant(backend, tenant_id)
    result: Page[HistoryRow] = await backend.call(HistoryApi.runs_list, query)
    return result


@router.get(
    "/tenants/{tenant_id}/history.csv",
    response_class=StreamingResponse,
    tags=["history"],
    summary="Export the Sync History to CSV (every row matching `search`)",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    operation_id="exportHistoryCsv",
)
async def history_csv(
    request: Request,
    tenant_id: Id,
    search: Search = "",
    changes_only: ChangesOnly = False,
    privileged: PrivilegedOnly = False,
) -> StreamingResponse:
    search = PRIVILEGED_SEARCH if privileged else search
    build(HistoryRunsQuery, tenant_id=tenant_id, search=search)
    tenant = await views.current_tenant(services(request), tenant_id)
    return await csv_response(request, tenant_id, tenant.tenant, search, changes_only)


async def csv_response(
    request: Request, tenant_id: str, label: str, search: str, changes_only: bool
) -> StreamingResponse:
    first, rest = await views.csv_chunks(services(request), tenant_id, search, changes_only)

    async def body() -> Any:
        yield first
        async for chunk in rest:
            yield chunk

    filename = f"sync-history-{label or tenant_id}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/deleted-tenants",
    response_model=DeletedTenants,
    tags=["history"],
    summary="Tenants deleted with their Sync History kept, newest deletion first",
    operation_id="listDeletedTenants",
)
async def deleted_tenants(request: Request) -> DeletedTenants:
    result: DeletedTenants = await services(request).call(
        HistoryApi.tenants_deleted, DeletedTenantsQuery()
    )
    return result


async def deleted_tenant(request: Request, tenant_id: str) -> DeletedTenant:
    """The deleted tenant whose kept history is asked for, or 404."""
    return await views.deleted_tenant(services(request), tenant_id)


@router.get(
    "/deleted-tenants/{tenant_id}/history",
    response_model=Page[HistoryRow],
    tags=["history"],
    summary="The kept Sync History of a deleted tenant (read-only)",
    operation_id="listDeletedTenantHistory",
)
async def deleted_history(
    request: Request,
    tenant_id: Id,
    page: Page_ = 1,
    page_size: PageSize = 50,
    search: Search = "",
    changes_only: ChangesOnly = False,
) -> Page[HistoryRow]:
    query = runs_query(tenant_id, page, page_size, search, changes_only)
    await deleted_tenant(request, tenant_id)
    result: Page[HistoryRow] = await services(request).call(HistoryApi.runs_list, query)
    return result


@router.get(
    "/deleted-tenants/{tenant_id}/history.csv",
    response_class=StreamingResponse,
    tags=["history"],
    summary="Export a deleted tenant's kept Sync History to CSV",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    operation_id="exportDeletedTenantHistoryCsv",
)
async def deleted_history_csv(
    request: Request, tenant_id: Id, search: Search = "", changes_only: ChangesOnly = False
) -> StreamingResponse:
    build(HistoryRunsQuery, tenant_id=tenant_id, search=search)
    deleted = await deleted_tenant(request, tenant_id)
    return await csv_response(request, tenant_id, deleted.tenant, search, changes_only)


@router.get(
    "/tenants/{tenant_id}/objects",
    response_model=Page[InventoryItem],
    tags=["history"],
    summary="The synced copy of a tenant's objects of one type (users, service principals, …)",
    operation_id="listObjects",
)
async def objects(
    request: Request,
    tenant_id: Id,
    object_type: Annotated[ObjectType, Query(alias="type")],
    page: Page_ = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
    search: Search = "",
    include_deleted: bool = True,
) -> Page[InventoryItem]:
    query = build(
        HistoryObjectsQuery,
        tenant_id=tenant_id,
        object_type=object_type,
        page=page,
        page_size=page_size,
        search=search,
        include_deleted=include_deleted,
    )
    backend = services(request)
    await backend.call(ConfigApi.tenant_get, TenantRef(tenant_id=tenant_id))
    return await backend.call(HistoryApi.objects_list, query)
