"""Tenants, their app registrations, and lookup by GUID or domain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from entrasync_sim.directory import TenantDirectory


@dataclass(frozen=True)
class AppRegistration:
    """An application (client) registered in a tenant, with one client secret."""

    client_id: str
    client_secret: str


@dataclass
class Tenant:
    """One simulated Entra tenant."""

    tenant_id: str
    domain: str
    display_name: str
    apps: dict[str, AppRegistration]
    directory: TenantDirectory = field(default_factory=TenantDirectory)

    def describe(self) -> dict[str, Any]:
        """The tenant as the ready line and the control API list it (first app only)."""
        app = next(iter(self.apps.values()))
        return {
            "tenant_id": self.tenant_id,
            "domain": self.domain,
            "display_name": self.display_name,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        }


class TenantRegistry:
    """All tenants of a simulator process, addressable by GUID or domain (any case)."""

    def __init__(self, tenants: list[Tenant]) -> None:
        self._ordered = list(tenants)
        self._by_key: dict[str, Tenant] = {}
        for tenant in tenants:
            self._by_key[tenant.tenant_id.lower()] = tenant
            self._by_key[tenant.domain.lower()] = tenant

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self._ordered)

    def resolve(self, key: str) -> Tenant | None:
        """The tenant whose GUID or domain is `key`, else None."""
        return self._by_key.get(key.lower())
