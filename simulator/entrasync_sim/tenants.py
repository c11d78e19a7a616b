"""Tenants, their app registrations, and lookup by GUID or any verified domain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from entrasync_sim.clock import isoformat
from entrasync_sim.credentials import AppCertificate
from entrasync_sim.delta import Quirks
from entrasync_sim.directory import TenantDirectory
from entrasync_sim.federation import FederatedCredential
from entrasync_sim.schema import KINDS, Kind

DEFAULT_PERMISSIONS = ("Directory.Read.All",)


@dataclass
class AppRegistration:
    """An application (client) registered in a tenant: a secret, a certificate and/or
    federated identity credentials."""

    client_id: str
    client_secret: str | None
    permissions: list[str] = field(default_factory=lambda: list(DEFAULT_PERMISSIONS))
    secret_expires_at: datetime | None = None
    certificate: AppCertificate | None = None
    federated: list[FederatedCredential] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        cert = self.certificate
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "permissions": list(self.permissions),
            "secret_expires_at": (
                isoformat(self.secret_expires_at) if self.secret_expires_at else None
            ),
            "thumbprint": cert.sha1_hex if cert else None,
            "certificate_pem": cert.cert_pem if cert else None,
            "private_key_pem": cert.key_pem if cert else None,
            "federated_credentials": [f.describe() for f in self.federated],
        }


@dataclass
class Tenant:
    """One simulated Entra tenant."""

    tenant_id: str
    domain: str
    display_name: str
    apps: dict[str, AppRegistration]
    directory: TenantDirectory = field(default_factory=TenantDirectory)
    extra_domains: list[str] = field(default_factory=list)
    quirks: Quirks = field(default_factory=Quirks)
    generations: dict[Kind, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    @property
    def domains(self) -> list[str]:
        """Every verified domain; the first is the initial `*.onmicrosoft.com` one."""
        return [self.domain, *self.extra_domains]

    def describe(self) -> dict[str, Any]:
        """The tenant as the ready line and the control API list it (first app on top)."""
        apps = [app.describe() for app in self.apps.values()]
        return {
            "tenant_id": self.tenant_id,
            "domain": self.domain,
            "domains": self.domains,
            "display_name": self.display_name,
            **apps[0],
            "apps": apps,
        }


class TenantRegistry:
    """All tenants of a simulator process, addressable by GUID or domain (any case)."""

    def __init__(self, tenants: list[Tenant]) -> None:
        self._ordered = list(tenants)
        self._by_key: dict[str, Tenant] = {}
        for tenant in tenants:
            self._by_key[tenant.tenant_id.lower()] = tenant
            for domain in tenant.domains:
                self._by_key[domain.lower()] = tenant

    def add(self, tenant: Tenant) -> None:
        """Register one more tenant; ValueError if its GUID or a domain is already known."""
        keys = [tenant.tenant_id.lower(), *(domain.lower() for domain in tenant.domains)]
        clash = [key for key in keys if key in self._by_key]
        if clash:
            raise ValueError(f"tenant {clash[0]} already exists")
        self._ordered.append(tenant)
        self._by_key.update(dict.fromkeys(keys, tenant))

    def __len__(self) -> int:
        return len(self._ordered)

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self._ordered)

    def resolve(self, key: str) -> Tenant | None:
        """The tenant whose GUID or domain is `key`, else None."""
        return self._by_key.get(key.lower())

    def app_anywhere(self, client_id: str) -> bool:
        return any(client_id.lower() in t.apps for t in self._ordered)
