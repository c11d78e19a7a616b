"""The tenant's near-real-time setting: off by default, refused without the receiver's URL."""

from __future__ import annotations

import dataclasses

import pytest
from config_fakes import CLIENT_ID, World, make_world
from entrasync_config import usecases
from entrasync_config.domain import Invalid
from entrasync_shared.messages import CredentialProfileCreate, TenantCreate, TenantUpdate


async def profile_id(world: World) -> str:
    profile = await usecases.create_profile(
        CredentialProfileCreate(name="app", client_id=CLIENT_ID, client_secret="hush"), world.deps
    )
    return profile.id


def with_notifications(world: World) -> World:
    return dataclasses.replace(world, deps=dataclasses.replace(world.deps, notifications=True))


async def test_near_real_time_is_off_by_default() -> None:
    world = make_world()
    tenant = await usecases.create_tenant(
        TenantCreate(tenant="contoso.onmicrosoft.com", profile_id=await profile_id(world)),
        world.deps,
    )

    assert tenant.near_real_time is False


async def test_near_real_time_is_refused_until_the_notification_url_is_set() -> None:
    world = make_world()
    request = TenantCreate(
        tenant="contoso.onmicrosoft.com", profile_id=await profile_id(world), near_real_time=True
    )

    with pytest.raises(Invalid) as refused:
        await usecases.create_tenant(request, world.deps)
    tenant = await usecases.create_tenant(request, with_notifications(world).deps)

    assert refused.value.field == "near_real_time"
    assert "ENTRASYNC_NOTIFICATION_URL" in refused.value.message
    assert tenant.near_real_time is True


async def test_turning_it_on_later_is_checked_too_but_other_edits_are_not() -> None:
    world = make_world()
    tenant = await usecases.create_tenant(
        TenantCreate(
            tenant="contoso.onmicrosoft.com",
            profile_id=await profile_id(world),
            near_real_time=True,
        ),
        with_notifications(world).deps,
    )

    renamed = await usecases.update_tenant(
        TenantUpdate(tenant_id=tenant.id, version=1, name="Contoso"), world.deps
    )
    with pytest.raises(Invalid):
        await usecases.update_tenant(
            TenantUpdate(tenant_id=tenant.id, version=2, object_types=("user",)), world.deps
        )

    assert renamed.name == "Contoso" and renamed.near_real_time is True


async def test_near_real_time_needs_users_or_groups() -> None:
    world = with_notifications(make_world())
    request = TenantCreate(
        tenant="contoso.onmicrosoft.com",
        profile_id=await profile_id(world),
        object_types=("device",),
        near_real_time=True,
    )

    with pytest.raises(Invalid) as refused:
        await usecases.create_tenant(request, world.deps)

    assert "users and groups" in refused.value.message
