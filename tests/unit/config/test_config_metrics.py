"""config's gauges, read from its stores at each scrape: tenants by enabled, profiles by kind,
profiles expiring within 30 days or expired, and each profile's days to expiry (gone with the
profile)."""

from __future__ import annotations

from datetime import timedelta

from config_fakes import CLIENT_ID, NOW, make_world
from entrasync_config import usecases
from entrasync_config.entrypoints.metrics import sample_config
from entrasync_shared.kit import metrics
from entrasync_shared.messages import CredentialProfileCreate, ProfileDelete, TenantCreate
from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_tenants_profiles_and_expiries_are_sampled_at_scrape() -> None:
    world = make_world()
    sample_config(lambda: world.deps)
    today = NOW.date()
    profiles = []
    for name, expires in (
        ("soon", today + timedelta(days=10)),
        ("late", today - timedelta(days=2)),
        ("far", today + timedelta(days=200)),
        ("never", None),
    ):
        request = CredentialProfileCreate(
            name=name, client_id=CLIENT_ID, client_secret="hush", secret_expires_at=expires
        )
        profiles.append(await usecases.create_profile(request, world.deps))
    tenant = TenantCreate(tenant="a.example.com", cloud="global", profile_id=profiles[3].id)
    await usecases.create_tenant(tenant, world.deps)

    await metrics.sample()

    assert sample("entrasync_config_tenants", enabled="true") == 1
    assert sample("entrasync_config_tenants", enabled="false") == 0
    assert sample("entrasync_config_profiles", kind="secret") == 4
    assert sample("entrasync_config_profiles", kind="certificate") == 0
    assert sample("entrasync_config_profiles_expiring") == 2
    assert sample("entrasync_config_profiles_expired") == 1
    days = [sample("entrasync_config_profile_expiry_days", profile_id=p.id) for p in profiles]
    assert days == [10, -2, 200, None]

    await usecases.delete_profile(ProfileDelete(profile_id=profiles[0].id), world.deps)
    await metrics.sample()
    assert sample("entrasync_config_profile_expiry_days", profile_id=profiles[0].id) is None
    assert sample("entrasync_config_profiles_expiring") == 1
