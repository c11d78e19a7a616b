"""One Entra directory, one tenant: names of one directory are refused once it is a tenant."""

from __future__ import annotations

import pytest
from config_fakes import CLIENT_ID, NOW, TENANT_GUID, World, make_world
from entrasync_config import usecases
from entrasync_config.domain import Conflict, ProbeFailure
from entrasync_shared.messages import (
    ConnectionTest,
    CredentialProfileCreate,
    SyncRecorded,
    Tenant,
    TenantCreate,
    TenantDelete,
    TenantTest,
)

CUSTOM = "contoso.com"  # a verified custom domain of the same directory


@pytest.fixture
async def world() -> World:
    world = make_world()
    world.probe.directories[CUSTOM] = TENANT_GUID
    await usecases.create_profile(
        CredentialProfileCreate(name="app", client_id=CLIENT_ID, client_secret="s"), world.deps
    )
    return world


async def add(world: World, tenant: str, cloud: str = "global") -> Tenant:
    request = TenantCreate(tenant=tenant, cloud=cloud, profile_id="id0")
    return await usecases.create_tenant(request, world.deps)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("contoso.onmicrosoft.com", CUSTOM),
        ("contoso.onmicrosoft.com", TENANT_GUID),
        (TENANT_GUID, "contoso.onmicrosoft.com"),
        (CUSTOM, TENANT_GUID.upper()),
    ],
)
async def test_a_second_name_of_a_directory_is_refused_naming_the_tenant_it_is(
    world: World, first: str, second: str
) -> None:
    existing = await add(world, first)

    with pytest.raises(Conflict) as refused:
        await add(world, second)

    assert refused.value.field == "tenant"
    assert TENANT_GUID in refused.value.message and existing.id in refused.value.message
    assert f"'{existing.name}' ({existing.tenant}, cloud global" in refused.value.message
    assert list(world.tenants.rows) == [existing.id]


async def test_the_same_directory_name_in_another_cloud_is_another_tenant(world: World) -> None:
    await add(world, "contoso.onmicrosoft.com")

    await add(world, TENANT_GUID, cloud="china")

    assert len(world.tenants.rows) == 2


async def test_a_deleted_tenant_frees_its_directory(world: World) -> None:
    tenant = await add(world, "contoso.onmicrosoft.com")
    await usecases.delete_tenant(TenantDelete(tenant_id=tenant.id), world.deps)

    again = await add(world, CUSTOM)

    assert world.tenants.directories == {again.id: TENANT_GUID}


async def test_an_unresolvable_directory_is_added_and_learnt_from_its_first_sync(
    world: World,
) -> None:
    first = await add(world, "contoso.onmicrosoft.com")
    world.probe.failures["discovery"] = ProbeFailure("timeout")
    late = await add(world, CUSTOM)
    assert late.id not in world.tenants.directories
    healthy = await usecases.check_health(world.deps)

    recorded = SyncRecorded(
        tenant_id=late.id,
        run_id="r1",
        mode="full",
        reason="first",
        status="Failed",
        started_at=NOW,
        finished_at=NOW,
        types=(),
        entra_tenant_id=TENANT_GUID,
    )
    await usecases.record_sync(recorded, world.deps)
    health = await usecases.check_health(world.deps)

    assert "warning" not in healthy.details
    assert world.tenants.directories[late.id] == TENANT_GUID
    assert health.ok and health.details["duplicate_directories"] == "1"
    assert first.id in health.details["warning"] and late.id in health.details["warning"]
    assert set(world.tenants.rows) == {first.id, late.id}  # reported, not merged


async def test_testing_an_unsaved_second_name_says_saving_would_be_refused(
    world: World,
) -> None:
    existing = await add(world, "contoso.onmicrosoft.com")

    result = await usecases.run_unsaved_test(
        ConnectionTest(tenant=CUSTOM, profile_id="id0"), world.deps
    )
    other = await usecases.run_unsaved_test(
        ConnectionTest(tenant="fabrikam.com", profile_id="id0"), world.deps
    )

    assert (result.ok, result.error_code, result.tenant_guid) == (False, "conflict", TENANT_GUID)
    assert existing.id in result.message and "would be refused" in result.message
    assert other.ok


async def test_testing_a_saved_duplicate_warns_and_records_its_directory(world: World) -> None:
    first = await add(world, "contoso.onmicrosoft.com")
    world.probe.failures["discovery"] = ProbeFailure("timeout")
    late = await add(world, CUSTOM)
    del world.probe.failures["discovery"]

    result = await usecases.run_tenant_test(TenantTest(tenant_id=late.id), world.deps)

    assert result.ok and world.tenants.directories[late.id] == TENANT_GUID
    assert f"Warning: tenant '{first.name}'" in result.message and first.id in result.message


async def test_testing_the_form_of_a_saved_tenant_is_not_flagged(world: World) -> None:
    await add(world, "contoso.onmicrosoft.com")

    result = await usecases.run_unsaved_test(
        ConnectionTest(tenant="Contoso.onmicrosoft.com", profile_id="id0"), world.deps
    )

    assert result.ok and result.error_code is None
