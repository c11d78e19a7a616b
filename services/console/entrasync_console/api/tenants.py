"""`/api/v1/tenants`: Entra ID Sync policies, Test Connection, Sync now and live status."""

from __future__ import annotations

from entrasync_shared.catalog import ConfigApi, SchedulerApi
from entrasync_shared.messages import (
    ConnectionTest,
    ConnectionTestResult,
    SyncNow,
    SyncNowAccepted,
    Tenant,
    TenantCreate,
    TenantDelete,
    TenantRef,
    TenantTest,
    TenantUpdate,
)
from fastapi import Request, Response

from entrasync_console.api import bodies
from entrasync_console.api.common import Id, Version, router, schemas, services
from entrasync_console.core import views
from entrasync_console.core.views import TenantStatus, TenantView


@router.get(
    "/tenants", response_model=list[TenantView], tags=["tenants"], operation_id="listTenants"
)
async def list_tenants(request: Request) -> list[TenantView]:
    backend = services(request)
    tenants = await backend.call(ConfigApi.tenant_list)
    return await views.tenant_views(backend, tenants)


@router.post(
    "/tenants",
    status_code=201,
    response_model=Tenant,
    tags=["tenants"],
    openapi_extra=schemas.register(TenantCreate),
    summary="Add an Entra ID Sync policy (full scan on its first run)",
    operation_id="createTenant",
)
async def create_tenant(request: Request, response: Response) -> Tenant:
    body = await bodies.read_body(request, TenantCreate)
    tenant = await services(request).call(ConfigApi.tenant_create, body)
    response.headers["location"] = f"{router.prefix}/tenants/{tenant.id}"
    return tenant


@router.post(
    "/tenants/test-connection",
    response_model=ConnectionTestResult,
    tags=["tenants"],
    openapi_extra=schemas.register(ConnectionTest),
    summary="Test Connection with unsaved input (the Add New Integration window)",
    operation_id="testConnection",
)
async def test_unsaved(request: Request) -> ConnectionTestResult:
    body = await bodies.read_body(request, ConnectionTest)
    return await services(request).call(ConfigApi.connection_test, body)


@router.get(
    "/tenants/{tenant_id}", response_model=TenantView, tags=["tenants"], operation_id="getTenant"
)
async def get_tenant(request: Request, tenant_id: Id) -> TenantView:
    backend = services(request)
    (view,) = await views.tenant_views(
        backend, [await backend.call(ConfigApi.tenant_get, TenantRef(tenant_id=tenant_id))]
    )
    return view


@router.patch(
    "/tenants/{tenant_id}",
    response_model=Tenant,
    tags=["tenants"],
    openapi_extra=schemas.register(TenantUpdate, drop="tenant_id", name="TenantPatch"),
    summary="Change a policy; `tenant` and `cloud` are immutable",
    operation_id="updateTenant",
)
async def update_tenant(request: Request, tenant_id: Id) -> Tenant:
    body = await bodies.read_body(request, TenantUpdate, tenant_id=tenant_id)
    return await services(request).call(ConfigApi.tenant_update, body)


@router.delete(
    "/tenants/{tenant_id}",
    status_code=204,
    response_class=Response,
    tags=["tenants"],
    summary="Delete a policy (its Sync History is kept unless `purge_history`)",
    operation_id="deleteTenant",
)
async def delete_tenant(
    request: Request, tenant_id: Id, version: Version = None, purge_history: bool = False
) -> Response:
    request_model = TenantDelete(tenant_id=tenant_id, version=version, purge_history=purge_history)
    await services(request).call(ConfigApi.tenant_delete, request_model)
    return Response(status_code=204)


@router.post(
    "/tenants/{tenant_id}/test-connection",
    response_model=ConnectionTestResult,
    tags=["tenants"],
    openapi_extra=schemas.register(
        TenantTest, drop="tenant_id", name="TenantTestOptions", required=False
    ),
    summary="Test Connection of a saved policy (an empty body is fine)",
    operation_id="testTenantConnection",
)
async def test_saved(request: Request, tenant_id: Id) -> ConnectionTestResult:
    body = await bodies.read_optional_body(request, TenantTest, tenant_id=tenant_id)
    return await services(request).call(ConfigApi.tenant_test, body)


@router.post(
    "/tenants/{tenant_id}/sync",
    status_code=202,
    response_model=SyncNowAccepted,
    tags=["sync"],
    summary="Sync now (queued at once, or right after the run in progress)",
    operation_id="syncNow",
)
async def sync_now(request: Request, tenant_id: Id) -> SyncNowAccepted:
    backend = services(request)
    await backend.call(ConfigApi.tenant_get, TenantRef(tenant_id=tenant_id))
    return await backend.call(SchedulerApi.sync_now, SyncNow(tenant_id=tenant_id))


@router.get(
    "/tenants/{tenant_id}/status",
    response_model=TenantStatus,
    tags=["sync"],
    operation_id="getTenantStatus",
)
async def status(request: Request, tenant_id: Id) -> TenantStatus:
    backend = services(request)
    await backend.call(ConfigApi.tenant_get, TenantRef(tenant_id=tenant_id))
    return await views.tenant_status(backend, tenant_id)
