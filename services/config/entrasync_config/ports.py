"""What config's use cases need from the outside world, as `typing.Protocol` ports, plus `Deps`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from entrasync_shared.clouds import CloudRegistry
from entrasync_shared.messages import CloudEndpoints, CredentialProfile, Tenant

from entrasync_config.domain.model import (
    ClientCredential,
    ConfigEvent,
    SecretBinding,
    StoredProfile,
)


class SecretBox(Protocol):
    """Authenticated encryption of secrets at rest, with rotatable keys."""

    @property
    def key_id(self) -> str:
        """Id of the newest key, the one `seal` uses."""

    def seal(self, plaintext: str, binding: SecretBinding) -> bytes: ...

    def open(self, sealed: bytes, binding: SecretBinding) -> str:
        """Raises `SecretUnreadable` when `sealed` does not open for `binding`."""

    def is_current(self, sealed: bytes) -> bool:
        """True when `sealed` uses the newest format and key (judged by the blob alone)."""


class ProfileStore(Protocol):
    """Credential profiles. Every write stores its event in the same transaction (outbox)."""

    async def add(self, stored: StoredProfile, event: ConfigEvent) -> None:
        """Raises `Conflict` when the name is taken."""

    async def get(self, profile_id: str) -> StoredProfile | None: ...

    async def all_profiles(self) -> list[CredentialProfile]:
        """Every profile (without secrets), by name."""

    async def replace(
        self, stored: StoredProfile, expected_version: int, event: ConfigEvent
    ) -> None:
        """Raises `Conflict` on a stale version or a taken name, `NotFound` when gone."""

    async def delete(
        self, profile_id: str, expected_version: int, event: ConfigEvent
    ) -> list[Tenant]:
        """Delete unless tenants use it: returns those tenants (nothing deleted) or []."""

    async def sealed_secrets(self) -> list[StoredProfile]:
        """Every profile with its sealed secret, for re-encryption and health."""

    async def reseal(self, stored: StoredProfile, new: bytes, key_id: str) -> bool:
        """Replace `stored.sealed` by `new` if the profile still holds it at the same version."""


class TenantStore(Protocol):
    """Tenant policies. Every write stores its event in the same transaction (outbox)."""

    async def add(self, tenant: Tenant, event: ConfigEvent, directory: str | None) -> None:
        """Raises `Conflict` when (tenant, cloud) or (directory GUID, cloud) is taken,
        `ProfileMissing` without profile."""

    async def holding_directory(self, directory: str, cloud: str) -> Tenant | None:
        """The (oldest) tenant known to be the directory with GUID `directory` in `cloud`."""

    async def record_directory(self, tenant_id: str, directory: str) -> Tenant | None:
        """Store the GUID of a tenant that has none yet; return another tenant of the same
        directory (a duplicate, left as it is) or None."""

    async def duplicate_directories(self) -> list[list[Tenant]]:
        """Groups of two or more tenants that are the same directory in the same cloud."""

    async def get(self, tenant_id: str) -> Tenant | None: ...

    async def all_tenants(self) -> list[Tenant]:
        """Every tenant, oldest first."""

    async def using_profile(self, profile_id: str) -> list[Tenant]: ...

    async def replace(self, tenant: Tenant, expected_version: int, event: ConfigEvent) -> None:
        """Raises `Conflict` on a stale version, `NotFound` when gone, `ProfileMissing`."""

    async def delete(self, tenant: Tenant, event: ConfigEvent, now: datetime) -> None:
        """Remove the policy (kept in a tombstone collection); `Conflict` if it changed."""

    async def clear_full_scan(
        self, tenant_id: str, run_id: str, now: datetime, announce: Callable[[Tenant], ConfigEvent]
    ) -> Tenant | None:
        """Clear the flag (bumping version) if set; if `run_id` already cleared it, return the
        tenant as it is now (a redelivery); otherwise None."""

    async def ping(self) -> None:
        """Raise when the store is unreachable."""


class EventOutbox(Protocol):
    async def flush(self) -> int:
        """Publish every committed, not yet published event in commit order; returns the count."""


class EntraProbe(Protocol):
    """The identity platform and Graph of one cloud, as a connection test sees them."""

    async def discover(self, cloud: CloudEndpoints, tenant: str, timeout: float) -> str:
        """The tenant's GUID from its OpenID configuration; raises `ProbeFailure`."""

    async def token(
        self, cloud: CloudEndpoints, tenant: str, credential: ClientCredential, timeout: float
    ) -> str:
        """An app-only Graph token from a fresh MSAL application; raises `ProbeFailure`."""

    async def graph_get(
        self, cloud: CloudEndpoints, path: str, token: str, timeout: float
    ) -> dict[str, Any]:
        """A Graph GET's JSON body; raises `ProbeFailure` with Graph's error code."""


@dataclass(frozen=True)
class Deps:
    profiles: ProfileStore
    tenants: TenantStore
    box: SecretBox
    clouds: CloudRegistry
    events: EventOutbox
    probe: EntraProbe
    now: Callable[[], datetime]
    new_id: Callable[[], str]
    test_timeout: float = 20.0
    notifications: bool = False  # ENTRASYNC_NOTIFICATION_URL is set: near real time is possible
