from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from entrasync_config import domain
from entrasync_config.adapters.crypto import (
    AesGcmSecretBox,
    BadEncryptionKey,
    SecretUnreadable,
    generate_key,
)
from entrasync_config.domain import Conflict, Deps, Invalid, NotFound
from entrasync_shared.clouds import CloudRegistry
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    SyncRecorded,
    Tenant,
    TenantCreate,
    TenantCreated,
    TenantRef,
    TenantUpdated,
    TypeCounts,
)

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
CLIENT_ID = "11111111-2222-3333-4444-555555555555"


class FakeProfiles:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[CredentialProfile, bytes]] = {}

    async def add(self, profile: CredentialProfile, sealed_secret: bytes) -> None:
        if any(p.name == profile.name for p, _ in self.rows.values()):
            raise Conflict("taken", field="name")
        self.rows[profile.id] = (profile, sealed_secret)

    async def get(self, profile_id: str) -> CredentialProfile | None:
        row = self.rows.get(profile_id)
        return row[0] if row else None

    async def sealed_secret(self, profile_id: str) -> bytes | None:
        row = self.rows.get(profile_id)
        return row[1] if row else None

    async def list(self) -> list[CredentialProfile]:
        return [p for p, _ in self.rows.values()]


class FakeTenants:
    def __init__(self) -> None:
        self.rows: dict[str, Tenant] = {}
        self.cleared_by: dict[str, str] = {}

    async def add(self, tenant: Tenant) -> None:
        if any((t.tenant, t.cloud) == (tenant.tenant, tenant.cloud) for t in self.rows.values()):
            raise Conflict("taken", field="tenant")
        self.rows[tenant.id] = tenant

    async def get(self, tenant_id: str) -> Tenant | None:
        return self.rows.get(tenant_id)

    async def list(self) -> list[Tenant]:
        return list(self.rows.values())

    async def ping(self) -> None:
        return None

    async def clear_full_scan(self, tenant_id: str, run_id: str, now: datetime) -> Tenant | None:
        tenant = self.rows.get(tenant_id)
        if tenant is None:
            return None
        if tenant.full_scan_next:
            changes = {"full_scan_next": False, "version": tenant.version + 1, "updated_at": now}
            self.rows[tenant_id] = tenant = tenant.model_copy(update=changes)
            self.cleared_by[tenant_id] = run_id
            return tenant
        return tenant if self.cleared_by.get(tenant_id) == run_id else None


class FakeEvents:
    def __init__(self) -> None:
        self.published: list[TenantCreated | TenantUpdated] = []

    async def tenant_created(self, event: TenantCreated) -> None:
        self.published.append(event)

    async def tenant_updated(self, event: TenantUpdated) -> None:
        self.published.append(event)


@pytest.fixture
def events() -> FakeEvents:
    return FakeEvents()


@pytest.fixture
def deps(events: FakeEvents) -> Deps:
    ids = (f"id{n}" for n in itertools.count())
    clock = (NOW + timedelta(seconds=n) for n in itertools.count())
    return Deps(
        profiles=FakeProfiles(),
        tenants=FakeTenants(),
        box=AesGcmSecretBox.from_setting(generate_key()),
        clouds=CloudRegistry(),
        events=events,
        now=lambda: next(clock),
        new_id=lambda: next(ids),
    )


async def new_profile(deps: Deps) -> CredentialProfile:
    request = CredentialProfileCreate(name="app", client_id=CLIENT_ID, client_secret="hush")
    return await domain.create_profile(request, deps)


async def new_tenant(deps: Deps, **changes: Any) -> Tenant:
    profile = await new_profile(deps)
    request = TenantCreate(tenant="Contoso.onmicrosoft.com ", profile_id=profile.id, **changes)
    return await domain.create_tenant(request, deps)


def run(tenant: Tenant, run_id: str, status: str = "Succeeded", mode: str = "full") -> SyncRecorded:
    return SyncRecorded.model_validate(
        {
            "tenant_id": tenant.id,
            "run_id": run_id,
            "mode": mode,
            "reason": "first",
            "status": status,
            "started_at": NOW,
            "finished_at": NOW,
            "types": [
                TypeCounts(object_type=t, mode=mode, reason="first", status=status)
                for t in tenant.object_types
            ],
        }
    )


async def test_a_new_tenant_needs_a_full_scan_and_is_announced(
    deps: Deps, events: FakeEvents
) -> None:
    tenant = await new_tenant(deps, interval_seconds=300)

    assert tenant.tenant == tenant.name == "contoso.onmicrosoft.com"
    assert tenant.full_scan_next and tenant.version == 1
    assert events.published == [
        TenantCreated(id=f"{tenant.id}.v1", at=tenant.updated_at, tenant=tenant)
    ]


async def test_a_tenant_needs_an_existing_profile_and_a_known_cloud(
    deps: Deps, events: FakeEvents
) -> None:
    profile = await new_profile(deps)
    with pytest.raises(Invalid) as no_profile:
        await domain.create_tenant(TenantCreate(tenant="a.example.com", profile_id="x"), deps)
    with pytest.raises(Invalid) as no_cloud:
        request = TenantCreate(tenant="a.example.com", profile_id=profile.id, cloud="mars")
        await domain.create_tenant(request, deps)

    assert (no_profile.value.field, no_cloud.value.field) == ("profile_id", "cloud")
    assert "usgov-dod" in no_cloud.value.message
    assert events.published == []


async def test_the_credential_carries_the_decrypted_secret(deps: Deps) -> None:
    tenant = await new_tenant(deps, cloud="china")

    credential = await domain.get_credential(TenantRef(tenant_id=tenant.id), deps)

    assert credential.client_secret.get_secret_value() == "hush"
    assert credential.cloud.graph_url == "https://microsoftgraph.chinacloudapi.cn"
    with pytest.raises(NotFound):
        await domain.get_credential(TenantRef(tenant_id="nope"), deps)


@pytest.mark.parametrize(
    ("status", "mode"), [("Failed", "full"), ("Succeeded", "delta"), ("Cancelled", "full")]
)
async def test_only_a_succeeded_full_run_clears_the_flag(
    deps: Deps, status: str, mode: str
) -> None:
    tenant = await new_tenant(deps)

    assert await domain.record_sync(run(tenant, "r1", status, mode), deps) is None
    assert (await domain.get_tenant(TenantRef(tenant_id=tenant.id), deps)).full_scan_next


async def test_clearing_the_flag_is_idempotent_per_run(deps: Deps, events: FakeEvents) -> None:
    tenant = await new_tenant(deps)

    cleared = await domain.record_sync(run(tenant, "r1"), deps)
    again = await domain.record_sync(run(tenant, "r1"), deps)
    other = await domain.record_sync(run(tenant, "r2"), deps)

    assert cleared is not None and not cleared.full_scan_next and cleared.version == 2
    assert again == cleared and other is None
    updates = [e for e in events.published if isinstance(e, TenantUpdated)]
    assert {e.id for e in updates} == {f"{tenant.id}.v2"}


def test_a_sealed_secret_opens_only_with_its_key_and_owner() -> None:
    box = AesGcmSecretBox.from_setting(generate_key())
    sealed = box.seal("hush", context="profile-1")

    assert b"hush" not in sealed
    assert box.open(sealed, context="profile-1") == "hush"
    with pytest.raises(SecretUnreadable):
        box.open(sealed, context="profile-2")
    with pytest.raises(SecretUnreadable):
        AesGcmSecretBox.from_setting(generate_key()).open(sealed, context="profile-1")


@pytest.mark.parametrize("key", ["", "short", "!" * 44, generate_key()[:-8]])
def test_a_malformed_encryption_key_is_refused(key: str) -> None:
    with pytest.raises(BadEncryptionKey, match="entrasync-config genkey"):
        AesGcmSecretBox.from_setting(key)
