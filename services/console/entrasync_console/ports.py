"""What the console needs from the other services (`adapters.nats.NatsServices` provides it).

Every method raises `entrasync_shared.natsutil.ApiCallError` with the service's error code, or
`unavailable` / `timeout` when nobody answers.
"""

from __future__ import annotations

from typing import Protocol

from entrasync_shared.messages import (
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


class Services(Protocol):
    @property
    def connected(self) -> bool: ...

    async def profiles(self) -> list[CredentialProfile]: ...

    async def profile(self, request: ProfileRef) -> CredentialProfile: ...

    async def create_profile(self, request: CredentialProfileCreate) -> CredentialProfile: ...

    async def update_profile(self, request: ProfileUpdate) -> CredentialProfile: ...

    async def delete_profile(self, request: ProfileDelete) -> CredentialProfile: ...

    async def tenants(self) -> list[Tenant]: ...

    async def tenant(self, request: TenantRef) -> Tenant: ...

    async def create_tenant(self, request: TenantCreate) -> Tenant: ...

    async def update_tenant(self, request: TenantUpdate) -> Tenant: ...

    async def delete_tenant(self, request: TenantDelete) -> Tenant: ...

    async def test_connection(self, request: ConnectionTest) -> ConnectionTestResult: ...

    async def test_tenant(self, request: TenantTest) -> ConnectionTestResult: ...

    async def sync_now(self, request: SyncNow) -> SyncNowAccepted: ...

    async def history(self, request: HistoryRunsQuery) -> Page[HistoryRow]: ...

    async def export_chunk(self, request: HistoryExportRequest) -> HistoryExportChunk: ...

    async def objects(self, request: HistoryObjectsQuery) -> Page[InventoryItem]: ...

    async def sync_status(self, request: TenantsStatusQuery) -> TenantsSyncStatus: ...

    async def deleted_tenants(self, request: DeletedTenantsQuery) -> DeletedTenants: ...

    async def health(self, service: str) -> Health: ...
