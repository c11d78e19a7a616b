"""Sync History (JSON pages and CSV) and the synced objects of a tenant."""

from __future__ import annotations

from typing import Annotated, Any

from entrasync_shared.messages import (
    HISTORY_PAGE_SIZES,
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

from entrasync_console import views
from entrasync_console.api.common import Id, Search, build, router, services

PAGE_SIZE_DOC = {"enum": list(HISTORY_PAGE_SIZES)}


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
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(json_schema_extra=PAGE_SIZE_DOC)] = 50,
    search: Search = "",
) -> Page[HistoryRow]:
    query = build(
        HistoryRunsQuery, tenant_id=tenant_id, page=page, page_size=page_size, search=search
    )
    backend = services(request)
    await backend.tenant(TenantRef(tenant_id=tenant_id))
    return await backend.history(query)


@router.get(
    "/tenants/{tenant_id}/history.csv",
    response_class=StreamingResponse,
    tags=["history"],
    summary="Export the Sync History to CSV (every row matching `search`)",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    operation_id="exportHistoryCsv",
)
async def history_csv(request: Request, tenant_id: Id, search: Search = "") -> StreamingResponse:
    build(HistoryRunsQuery, tenant_id=tenant_id, search=search)
    backend = services(request)
    tenant = await backend.tenant(TenantRef(tenant_id=tenant_id))
    first, rest = await views.csv_chunks(backend, tenant_id, search)

    async def body() -> Any:
        yield first
        async for chunk in rest:
            yield chunk

    filename = f"sync-history-{tenant.tenant}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/tenants/{tenant_id}/objects",
    response_model=Page[InventoryItem],
    tags=["history"],
    summary="The synced copy of a tenant's users, groups or devices",
    operation_id="listObjects",
)
async def objects(
    request: Request,
    tenant_id: Id,
    object_type: Annotated[ObjectType, Query(alias="type")],
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
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
    await backend.tenant(TenantRef(tenant_id=tenant_id))
    return await backend.objects(query)
