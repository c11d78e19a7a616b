"""The other services' request-reply APIs over NATS, typed (`entrasync.api.<service>.<verb>`)."""

from __future__ import annotations

from typing import Any, TypeVar

from entrasync_shared.messages import (
    ApiError,
    ConnectionTest,
    ConnectionTestResult,
    CredentialProfile,
    CredentialProfileCreate,
    DeletedTenants,
    DeletedTenantsQuery,
    Health,
    HistoryExportChunk,
    HistoryExportRequest,
    HistoryObjectsQuery,
    HistoryRow,
    HistoryRunsQuery,
    InventoryItem,
    Page,
    ProfileDelete,
    ProfileRef,
    ProfileUpdate,
    SyncNow,
    SyncNowAccepted,
    Tenant,
    TenantCreate,
    TenantDelete,
    TenantRef,
    TenantsStatusQuery,
    TenantsSyncStatus,
    TenantTest,
    TenantUpdate,
)
from entrasync_shared.natsutil import ApiCallError, call
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from pydantic import BaseModel

T = TypeVar("T")
TEST_GRACE = 5.0


class NatsServices:
    """Implements `ports.Services` with `natsutil.call`; every failure is an `ApiCallError`."""

    def __init__(self, nc: NatsClient, names: Names, timeout: float, test_timeout: float) -> None:
        self._nc, self._names = nc, names
        self._timeout, self._test_timeout = timeout, test_timeout

    @property
    def connected(self) -> bool:
        return bool(self._nc.is_connected)

    async def _call(
        self,
        service: str,
        verb: str,
        request: BaseModel | None,
        result_type: Any,
        timeout: float | None = None,
    ) -> Any:
        subject = self._names.api(service, verb)
        try:
            return await call(
                self._nc, subject, request, result_type, timeout=timeout or self._timeout
            )
        except ApiCallError as err:
            if err.error.code == "unavailable" and err.error.message.startswith("nobody serves"):
                message = (
                    f"the {service} service does not answer {verb!r}: it is not running, "
                    "or runs a version without this API"
                )
                raise ApiCallError(ApiError(code="unavailable", message=message)) from None
            if err.error.code == "timeout":
                message = f"the {service} service did not answer {verb!r} in time"
                raise ApiCallError(ApiError(code="timeout", message=message)) from None
            raise

    # -- config: credential profiles --------------------------------------------------------
    async def profiles(self) -> list[CredentialProfile]:
        return await self._call("config", "profile.list", None, list[CredentialProfile])

    async def profile(self, request: ProfileRef) -> CredentialProfile:
        return await self._call("config", "profile.get", request, CredentialProfile)

    async def create_profile(self, request: CredentialProfileCreate) -> CredentialProfile:
        return await self._call("config", "profile.create", request, CredentialProfile)

    async def update_profile(self, request: ProfileUpdate) -> CredentialProfile:
        return await self._call("config", "profile.update", request, CredentialProfile)

    async def delete_profile(self, request: ProfileDelete) -> CredentialProfile:
        return await self._call("config", "profile.delete", request, CredentialProfile)

    # -- config: tenants --------------------------------------------------------------------
    async def tenants(self) -> list[Tenant]:
        return await self._call("config", "tenant.list", None, list[Tenant])

    async def tenant(self, request: TenantRef) -> Tenant:
        return await self._call("config", "tenant.get", request, Tenant)

    async def create_tenant(self, request: TenantCreate) -> Tenant:
        return await self._call("config", "tenant.create", request, Tenant)

    async def update_tenant(self, request: TenantUpdate) -> Tenant:
        return await self._call("config", "tenant.update", request, Tenant)

    async def delete_tenant(self, request: TenantDelete) -> Tenant:
        return await self._call("config", "tenant.delete", request, Tenant)

    async def test_connection(self, request: ConnectionTest) -> ConnectionTestResult:
        wait = (request.timeout_seconds or self._test_timeout) + TEST_GRACE
        return await self._call(
            "config", "connection.test", request, ConnectionTestResult, timeout=wait
        )

    async def test_tenant(self, request: TenantTest) -> ConnectionTestResult:
        wait = (request.timeout_seconds or self._test_timeout) + TEST_GRACE
        return await self._call("config", "tenant.test", request, ConnectionTestResult, wait)

    # -- scheduler --------------------------------------------------------------------------
    async def sync_now(self, request: SyncNow) -> SyncNowAccepted:
        return await self._call("scheduler", "sync_now", request, SyncNowAccepted)

    # -- history ----------------------------------------------------------------------------
    async def history(self, request: HistoryRunsQuery) -> Page[HistoryRow]:
        return await self._call("history", "runs.list", request, Page[HistoryRow])

    async def export_chunk(self, request: HistoryExportRequest) -> HistoryExportChunk:
        return await self._call("history", "runs.export", request, HistoryExportChunk)

    async def objects(self, request: HistoryObjectsQuery) -> Page[InventoryItem]:
        return await self._call("history", "objects.list", request, Page[InventoryItem])

    async def sync_status(self, request: TenantsStatusQuery) -> TenantsSyncStatus:
        return await self._call("history", "tenants.status", request, TenantsSyncStatus)

    async def deleted_tenants(self, request: DeletedTenantsQuery) -> DeletedTenants:
        return await self._call("history", "tenants.deleted", request, DeletedTenants)

    # -- every service ----------------------------------------------------------------------
    async def health(self, service: str) -> Health:
        return await self._call(service, "health", None, Health, timeout=2.0)
