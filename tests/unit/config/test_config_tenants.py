from __future__ import annotations

from typing import Any

import pytest
from config_fakes import CLIENT_ID, NOW, World, make_world
from entrasync_config import usecases
from entrasync_config.domain import Conflict, Invalid, NotFound
from entrasync_shared.messages import (
    CredentialProfileCreate,
    SyncRecorded,
    Tenant,
    TenantCreate,
    TenantCreated,
    TenantDelete,
    TenantDeleted,
    TenantFilters,
    TenantRef,
    TenantUpdate,
    TenantUpdated,
    TypeCounts,
)


@pytest.fixture
def world() -> World:
    return make_world()


async def new_tenant(world: World, **changes: Any) -> Tenant:
    profile = await usecases.create_profile(
        CredentialProfileCreate(name="app", client_id=CLIENT_ID, client_secret="hush"), world.deps
    )
    request = TenantCreate(tenant="Contoso.onmicrosoft.com ", profile_id=profile.id, **changes)
    return await usecases.create_tenant(request, world.deps)


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


def tenant_events(world: World) -> list[Any]:
    return [
        e
        for e in world.outbox.published
        if isinstance(e, TenantCreated | TenantUpdated | TenantDeleted)
    ]


async def test_a_new_tenant_has_the_documented_defaults_and_is_announced(world: World) -> None:
    tenant = await new_tenant(world)

    assert tenant.tenant == tenant.name == "contoso.onmicrosoft.com"
    assert (tenant.cloud, tenant.enabled, tenant.full_scan_next) == ("global", True, True)
    assert tenant.object_types == ("user", "group", "device")
    assert (tenant.interval_seconds, tenant.version) == (60, 1)
    assert tenant.filters == TenantFilters()
    assert tenant_events(world) == [
        TenantCreated(id=f"{tenant.id}.v1", at=tenant.updated_at, tenant=tenant)
    ]


async def test_a_tenant_needs_an_existing_profile_and_a_known_cloud(world: World) -> None:
    tenant = await new_tenant(world)
    with pytest.raises(Invalid) as no_profile:
        await usecases.create_tenant(
            TenantCreate(tenant="a.example.com", profile_id="x"), world.deps
        )
    with pytest.raises(Invalid) as no_cloud:
        request = TenantCreate(tenant="a.example.com", profile_id=tenant.profile_id, cloud="mars")
        await usecases.create_tenant(request, world.deps)

    assert (no_profile.value.field, no_cloud.value.field) == ("profile_id", "cloud")
    assert "usgov-dod" in no_cloud.value.message and no_cloud.value.code == "validation"
    assert len(tenant_events(world)) == 1


async def test_an_update_changes_the_mutable_fields_and_bumps_the_version(world: World) -> None:
    tenant = await new_tenant(world)
    filters = TenantFilters(exclude_guests=True, member_of_groups=("g1",))

    updated = await usecases.update_tenant(
        TenantUpdate(
            tenant_id=tenant.id,
            version=1,
            name="Contoso",
            enabled=False,
            full_scan_next=False,
            object_types=("user",),
            interval_seconds=300,
            filters=filters,
            tenant="CONTOSO.onmicrosoft.com",
            cloud="global",
        ),
        world.deps,
    )

    assert (updated.name, updated.enabled, updated.full_scan_next) == ("Contoso", False, False)
    assert (updated.object_types, updated.interval_seconds) == (("user",), 300)
    assert updated.filters == filters and updated.version == 2
    assert (updated.tenant, updated.cloud, updated.created_at) == (
        tenant.tenant,
        tenant.cloud,
        tenant.created_at,
    )
    assert tenant_events(world)[-1] == TenantUpdated(
        id=f"{tenant.id}.v2", at=updated.updated_at, tenant=updated
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [({"tenant": "fabrikam.onmicrosoft.com"}, "tenant"), ({"cloud": "usgov"}, "cloud")],
)
async def test_tenant_and_cloud_are_immutable(
    world: World, change: dict[str, str], field: str
) -> None:
    tenant = await new_tenant(world)

    with pytest.raises(Invalid) as refused:
        await usecases.update_tenant(
            TenantUpdate(tenant_id=tenant.id, version=1, name="x", **change), world.deps
        )

    assert refused.value.field == field and "cannot change" in refused.value.message
    assert world.tenants.rows[tenant.id] == tenant


async def test_a_stale_update_is_a_conflict_and_changes_nothing(world: World) -> None:
    tenant = await new_tenant(world)
    await usecases.update_tenant(
        TenantUpdate(tenant_id=tenant.id, version=1, enabled=False), world.deps
    )

    with pytest.raises(Conflict):
        await usecases.update_tenant(
            TenantUpdate(tenant_id=tenant.id, version=1, interval_seconds=99), world.deps
        )

    assert world.tenants.rows[tenant.id].interval_seconds == 60


async def test_an_update_to_a_missing_profile_is_refused(world: World) -> None:
    tenant = await new_tenant(world)

    with pytest.raises(Invalid) as refused:
        await usecases.update_tenant(
            TenantUpdate(tenant_id=tenant.id, version=1, profile_id="gone"), world.deps
        )

    assert refused.value.field == "profile_id"


async def test_an_update_that_changes_nothing_is_no_event(world: World) -> None:
    tenant = await new_tenant(world)

    same = await usecases.update_tenant(
        TenantUpdate(tenant_id=tenant.id, version=1, enabled=True, interval_seconds=60),
        world.deps,
    )

    assert same == tenant and len(tenant_events(world)) == 1


async def test_delete_stops_the_policy_and_announces_it_with_the_history_choice(
    world: World,
) -> None:
    tenant = await new_tenant(world)

    deleted = await usecases.delete_tenant(
        TenantDelete(tenant_id=tenant.id, version=1, purge_history=True), world.deps
    )

    assert deleted == tenant and world.tenants.rows == {}
    event = tenant_events(world)[-1]
    assert isinstance(event, TenantDeleted)
    assert (event.tenant_id, event.tenant, event.purge_history) == (tenant.id, tenant, True)
    with pytest.raises(NotFound):
        await usecases.get_credential(TenantRef(tenant_id=tenant.id), world.deps)


async def test_history_is_kept_by_default_when_deleting(world: World) -> None:
    tenant = await new_tenant(world)

    await usecases.delete_tenant(TenantDelete(tenant_id=tenant.id), world.deps)

    event = tenant_events(world)[-1]
    assert isinstance(event, TenantDeleted) and event.purge_history is False


async def test_the_credential_carries_the_decrypted_secret(world: World) -> None:
    tenant = await new_tenant(world, cloud="china")

    credential = await usecases.get_credential(TenantRef(tenant_id=tenant.id), world.deps)

    assert credential.client_secret is not None
    assert credential.client_secret.get_secret_value() == "hush"
    assert credential.cloud.graph_url == "https://microsoftgraph.chinacloudapi.cn"
    with pytest.raises(NotFound):
        await usecases.get_credential(TenantRef(tenant_id="nope"), world.deps)


@pytest.mark.parametrize(
    ("status", "mode"), [("Failed", "full"), ("Succeeded", "delta"), ("Cancelled", "full")]
)
async def test_only_a_succeeded_full_run_clears_the_flag(
    world: World, status: str, mode: str
) -> None:
    tenant = await new_tenant(world)

    assert await usecases.record_sync(run(tenant, "r1", status, mode), world.deps) is None
    assert (await usecases.get_tenant(TenantRef(tenant_id=tenant.id), world.deps)).full_scan_next


async def test_clearing_the_flag_is_idempotent_per_run(world: World) -> None:
    tenant = await new_tenant(world)

    cleared = await usecases.record_sync(run(tenant, "r1"), world.deps)
    again = await usecases.record_sync(run(tenant, "r1"), world.deps)
    other = await usecases.record_sync(run(tenant, "r2"), world.deps)

    assert cleared is not None and not cleared.full_scan_next and cleared.version == 2
    assert again == cleared and other is None
    updates = [e for e in tenant_events(world) if isinstance(e, TenantUpdated)]
    assert {e.id for e in updates} == {f"{tenant.id}.v2"}


async def test_a_flag_set_again_by_an_admin_is_not_cleared_by_a_replayed_run(
    world: World,
) -> None:
    tenant = await new_tenant(world)
    cleared = await usecases.record_sync(run(tenant, "r1"), world.deps)
    assert cleared is not None
    await usecases.update_tenant(
        TenantUpdate(tenant_id=tenant.id, version=cleared.version, full_scan_next=True),
        world.deps,
    )

    await usecases.record_sync(run(tenant, "r1"), world.deps)

    assert (await usecases.get_tenant(TenantRef(tenant_id=tenant.id), world.deps)).full_scan_next


async def test_a_change_stands_when_its_event_cannot_be_published_yet(world: World) -> None:
    world.outbox.broken = True

    tenant = await new_tenant(world)

    assert world.tenants.rows[tenant.id] == tenant
    assert [e.id for e in world.outbox.pending] == [
        f"profile.{tenant.profile_id}.v1",
        f"{tenant.id}.v1",
    ]
    world.outbox.broken = False
    assert await world.outbox.flush() == 2
