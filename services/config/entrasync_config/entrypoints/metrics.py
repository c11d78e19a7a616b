"""The config service's Prometheus gauges (docs/metrics.md), read at each scrape: tenants,
credential profiles by kind, and how close each profile's secret or certificate is to expiry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Final

from entrasync_shared.kit import metrics
from prometheus_client import Gauge

from entrasync_config import usecases
from entrasync_config.ports import Deps

TENANTS: Final = Gauge("entrasync_config_tenants", "Tenants in config.", ("enabled",))
PROFILES: Final = Gauge(
    "entrasync_config_profiles", "Credential profiles, by credential kind.", ("kind",)
)
EXPIRING: Final = Gauge(
    "entrasync_config_profiles_expiring",
    "Profiles whose secret or certificate expires within 30 days or has expired.",
)
EXPIRED: Final = Gauge(
    "entrasync_config_profiles_expired",
    "Profiles whose secret or certificate has expired.",
)
EXPIRY_DAYS: Final = Gauge(
    "entrasync_config_profile_expiry_days",
    "Days until the profile's secret or certificate expires (negative once expired).",
    ("profile_id",),
)
KINDS: Final = ("secret", "certificate", "federated")


def sample_config(deps: Callable[[], Deps]) -> None:
    """Set config's gauges from its stores at each scrape (`deps()` raises until started: the
    gauges then keep their values)."""
    shown: set[str] = set()

    async def sampler() -> None:
        current = deps()
        today: date = current.now().date()
        tenants = await usecases.list_tenants(current)
        profiles = await usecases.list_profiles(current)
        enabled = sum(1 for t in tenants if t.enabled)
        TENANTS.labels("true").set(enabled)
        TENANTS.labels("false").set(len(tenants) - enabled)
        for kind in {*KINDS, *(p.kind for p in profiles)}:
            PROFILES.labels(kind).set(sum(1 for p in profiles if p.kind == kind))
        EXPIRING.set(sum(1 for p in profiles if p.expires_soon))
        EXPIRED.set(sum(1 for p in profiles if p.expired))
        expiries = {
            p.id: (p.secret_expires_at - today).days
            for p in profiles
            if p.secret_expires_at is not None
        }
        for gone in shown - set(expiries):
            EXPIRY_DAYS.remove(gone)
        for profile_id, days in expiries.items():
            EXPIRY_DAYS.labels(profile_id).set(days)
        shown.clear()
        shown.update(expiries)

    metrics.on_scrape("config:stores", sampler)
