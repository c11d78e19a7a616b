"""Config rules: credential profiles, tenant policies and the full-scan flag.

Use cases take their ports as arguments, return values and raise `ConfigError`s; they know
nothing of NATS or MongoDB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from entrasync_shared.clouds import CloudRegistry, UnknownCloud
from entrasync_shared.messages import (
    Credential,
    CredentialProfile,
    CredentialProfileCreate,
    Health,
    SyncRecorded,
    Tenant,
    TenantCreate,
    TenantCreated,
    TenantRef,
    TenantUpdated,
)
from pydantic import SecretStr

# -- errors ---------------------------------------------------------------------------------


class ConfigError(Exception):
    """A refusal the API reports as an error reply with a stable `code`."""

    code = "error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(ConfigError):
    code = "invalid"


class NotFound(ConfigError):
    code = "not_found"


class Conflict(ConfigError):
    code = "conflict"


class Unavailable(ConfigError):
    """Infrastructure (NATS, MongoDB) could not complete the operation; retrying may help."""

    code = "unavailable"


# -- ports ----------------------------------------------------------------------------------


class SecretBox(Protocol):
    def seal(self, plaintext: str, context: str) -> bytes: ...

    def open(self, sealed: bytes, context: str) -> str: ...


class ProfileStore(Protocol):
    async def add(self, profile: CredentialProfile, sealed_secret: bytes) -> None:
        """Store a new profile; raises `Conflict` when its name is taken."""

    async def get(self, profile_id: str) -> CredentialProfile | None: ...

    async def sealed_secret(self, profile_id: str) -> bytes | None: ...

    async def list(self) -> list[CredentialProfile]: ...


class TenantStore(Protocol):
    async def add(self, tenant: Tenant) -> None:
        """Store a new tenant; raises `Conflict` when (tenant, cloud) is taken."""

    async def get(self, tenant_id: str) -> Tenant | None: ...

    async def list(self) -> list[Tenant]: ...

    async def ping(self) -> None:
        """Raise when the store is unreachable."""

    async def clear_full_scan(self, tenant_id: str, run_id: str, now: datetime) -> Tenant | None:
        """Clear the flag (bumping version) if set; if `run_id` already cleared it, return the
        tenant as it is now (a redelivery); otherwise None."""


class ConfigEvents(Protocol):
    async def tenant_created(self, event: TenantCreated) -> None: ...

    async def tenant_updated(self, event: TenantUpdated) -> None: ...


@dataclass(frozen=True)
class Deps:
    profiles: ProfileStore
    tenants: TenantStore
    box: SecretBox
    clouds: CloudRegistry
    events: ConfigEvents
    now: Callable[[], datetime]
    new_id: Callable[[], str]


# -- rules ----------------------------------------------------------------------------------


def new_tenant(request: TenantCreate, tenant_id: str, now: datetime) -> Tenant:
    return Tenant(
        id=tenant_id,
        name=request.name or request.tenant,
        tenant=request.tenant,
        cloud=request.cloud,
        profile_id=request.profile_id,
        enabled=request.enabled,
        full_scan_next=True,
        object_types=request.object_types,
        interval_seconds=request.interval_seconds,
        filters=request.filters,
        version=1,
        created_at=now,
        updated_at=now,
    )


def is_full_success(recorded: SyncRecorded) -> bool:
    """A run that read every one of its object types from scratch and succeeded."""
    return (
        recorded.status == "Succeeded"
        and bool(recorded.types)
        and all(t.mode == "full" for t in recorded.types)
    )


def tenant_event_id(tenant: Tenant) -> str:
    """Stable per tenant version, so a retried publish is deduplicated by JetStream."""
    return f"{tenant.id}.v{tenant.version}"


# -- use cases ------------------------------------------------------------------------------


async def create_profile(request: CredentialProfileCreate, deps: Deps) -> CredentialProfile:
    now = deps.now()
    profile = CredentialProfile(
        id=deps.new_id(),
        name=request.name,
        client_id=request.client_id,
        secret_expires_at=request.secret_expires_at,
        created_at=now,
        updated_at=now,
    )
    sealed = deps.box.seal(request.client_secret.get_secret_value(), context=profile.id)
    await deps.profiles.add(profile, sealed)
    return profile


async def create_tenant(request: TenantCreate, deps: Deps) -> Tenant:
    if await deps.profiles.get(request.profile_id) is None:
        raise Invalid(f"no credential profile {request.profile_id!r}", field="profile_id")
    if request.cloud not in deps.clouds:
        known = ", ".join(deps.clouds.names())
        raise Invalid(f"unknown cloud {request.cloud!r}; known: {known}", field="cloud")
    tenant = new_tenant(request, deps.new_id(), deps.now())
    await deps.tenants.add(tenant)
    await deps.events.tenant_created(
        TenantCreated(id=tenant_event_id(tenant), at=tenant.updated_at, tenant=tenant)
    )
    return tenant


async def get_tenant(ref: TenantRef, deps: Deps) -> Tenant:
    tenant = await deps.tenants.get(ref.tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {ref.tenant_id!r}", field="tenant_id")
    return tenant


async def get_credential(ref: TenantRef, deps: Deps) -> Credential:
    tenant = await get_tenant(ref, deps)
    profile = await deps.profiles.get(tenant.profile_id)
    sealed = await deps.profiles.sealed_secret(tenant.profile_id)
    if profile is None or sealed is None:
        raise NotFound(f"tenant's profile {tenant.profile_id!r} is gone", field="profile_id")
    try:
        cloud = deps.clouds.resolve(tenant.cloud)
    except UnknownCloud as err:
        raise Unavailable(f"{err} (was it removed from ENTRASYNC_CLOUDS?)") from err
    return Credential(
        tenant_id=tenant.id,
        tenant=tenant.tenant,
        client_id=profile.client_id,
        client_secret=SecretStr(deps.box.open(sealed, context=profile.id)),
        cloud=cloud,
        object_types=tenant.object_types,
        filters=tenant.filters,
    )


async def record_sync(recorded: SyncRecorded, deps: Deps) -> Tenant | None:
    """Clear the full-scan flag after a successful full run; returns the updated tenant."""
    if not is_full_success(recorded):
        return None
    tenant = await deps.tenants.clear_full_scan(recorded.tenant_id, recorded.run_id, deps.now())
    if tenant is not None:
        await deps.events.tenant_updated(
            TenantUpdated(id=tenant_event_id(tenant), at=tenant.updated_at, tenant=tenant)
        )
    return tenant


async def check_health(deps: Deps) -> Health:
    try:
        await deps.tenants.ping()
    except Exception as err:
        return Health(service="config", ok=False, details={"database": type(err).__name__})
    return Health(service="config", ok=True, details={"database": "ok"})
