"""Tenant sync policies: create, read, update, delete, the credential, and the full-scan flag.

config owns the flag: set on a new tenant or by an admin, cleared here when a run that
`is_full_success()` is recorded; the scheduler only reads it from the tenants it receives.
"""

from __future__ import annotations

from entrasync_shared.clouds import UnknownCloud
from entrasync_shared.messages import (
    CloudEndpoints,
    Credential,
    SyncRecorded,
    Tenant,
    TenantCreate,
    TenantCreated,
    TenantDelete,
    TenantDeleted,
    TenantRef,
    TenantUpdate,
    TenantUpdated,
)
from pydantic import SecretStr

from entrasync_config.domain.errors import Invalid, NotFound, Unavailable
from entrasync_config.domain.profiles import check_version
from entrasync_config.domain.tenants import (
    changes_of,
    check_immutable,
    check_near_real_time,
    new_tenant,
    tenant_event_id,
)
from entrasync_config.ports import Deps
from entrasync_config.usecases.directories import (
    record_directory,
    refuse_a_second_tenant,
    resolve_directory,
)
from entrasync_config.usecases.events import announce
from entrasync_config.usecases.profiles import open_secret, stored_profile


def check_cloud(cloud: str, deps: Deps) -> None:
    if cloud not in deps.clouds:
        known = ", ".join(deps.clouds.names())
        raise Invalid(f"unknown cloud {cloud!r}; known clouds: {known}", field="cloud")


async def check_profile(profile_id: str, deps: Deps) -> None:
    if await deps.profiles.get(profile_id) is None:
        raise Invalid(f"no credential profile {profile_id!r}", field="profile_id")


def resolve_cloud(cloud: str, deps: Deps) -> CloudEndpoints:
    try:
        return deps.clouds.resolve(cloud)
    except UnknownCloud as err:
        raise Unavailable(f"{err} (was it removed from ENTRASYNC_CLOUDS?)") from err
    except OSError as err:
        raise Unavailable(f"the CA file of cloud {cloud!r} is unreadable: {err}") from err


def endpoints_or_none(cloud: str, deps: Deps) -> CloudEndpoints | None:
    try:
        return resolve_cloud(cloud, deps)
    except Unavailable:
        return None


async def create_tenant(request: TenantCreate, deps: Deps) -> Tenant:
    check_cloud(request.cloud, deps)
    await check_profile(request.profile_id, deps)
    endpoints = endpoints_or_none(request.cloud, deps)
    directory = await resolve_directory(request.tenant, endpoints, deps)
    await refuse_a_second_tenant(directory, request.cloud, deps)
    tenant = new_tenant(request, deps.new_id(), deps.now())
    check_near_real_time(tenant, request.model_dump(), deps.notifications)
    tenant = tenant.model_copy(update={"entra_tenant_id": directory})
    event = TenantCreated(id=tenant_event_id(tenant), at=tenant.updated_at, tenant=tenant)
    await deps.tenants.add(tenant, event, directory)
    await announce(deps)
    return tenant


async def list_tenants(deps: Deps) -> list[Tenant]:
    return await deps.tenants.all_tenants()


async def get_tenant(ref: TenantRef, deps: Deps) -> Tenant:
    tenant = await deps.tenants.get(ref.tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {ref.tenant_id!r}", field="tenant_id")
    return tenant


async def update_tenant(request: TenantUpdate, deps: Deps) -> Tenant:
    tenant = await get_tenant(TenantRef(tenant_id=request.tenant_id), deps)
    check_immutable(request, tenant)
    check_version("tenant", tenant.version, request.version)
    changes = changes_of(request, tenant)
    if not changes:
        return tenant
    if "profile_id" in changes:
        await check_profile(changes["profile_id"], deps)
    now = deps.now()
    updated = tenant.model_copy(
        update={**changes, "version": tenant.version + 1, "updated_at": now}
    )
    check_near_real_time(updated, changes, deps.notifications)
    event = TenantUpdated(id=tenant_event_id(updated), at=now, tenant=updated)
    await deps.tenants.replace(updated, request.version, event)
    await announce(deps)
    return updated


async def delete_tenant(request: TenantDelete, deps: Deps) -> Tenant:
    tenant = await get_tenant(TenantRef(tenant_id=request.tenant_id), deps)
    check_version("tenant", tenant.version, request.version)
    now = deps.now()
    event = TenantDeleted(
        id=f"{tenant.id}.deleted",
        at=now,
        tenant_id=tenant.id,
        tenant=tenant,
        purge_history=request.purge_history,
    )
    await deps.tenants.delete(tenant, event, now)
    await announce(deps)
    return tenant


async def get_credential(ref: TenantRef, deps: Deps) -> Credential:
    """What a syncer needs: the tenant's cloud, app and decrypted secret or private key (or,
    federated, where its token file is: never a token)."""
    tenant = await get_tenant(ref, deps)
    try:
        stored = await stored_profile(tenant.profile_id, deps)
    except NotFound:
        raise NotFound(
            f"the tenant's credential profile {tenant.profile_id!r} is gone", field="profile_id"
        ) from None
    cloud = resolve_cloud(tenant.cloud, deps)
    profile = stored.profile
    plaintext = SecretStr(open_secret(stored, deps))
    certificate = profile.kind == "certificate"
    secret = profile.kind == "secret"
    return Credential(
        tenant_id=tenant.id,
        tenant=tenant.tenant,
        client_id=profile.client_id,
        kind=profile.kind,
        client_secret=plaintext if secret else None,
        private_key_pem=plaintext if certificate else None,
        certificate_pem=stored.certificate_pem if certificate else None,
        certificate_thumbprint=profile.certificate_thumbprint if certificate else None,
        federated_token_file=profile.federated_token_file,
        cloud=cloud,
        object_types=tenant.object_types,
        filters=tenant.filters,
    )


async def record_sync(recorded: SyncRecorded, deps: Deps) -> Tenant | None:
    """Clear the full-scan flag after a successful full run; returns the updated tenant.

    A run also tells which directory the tenant is (the token's `tid`): recorded if unknown.
    """
    await record_directory(recorded.tenant_id, recorded.entra_tenant_id, deps)
    if not recorded.is_full_success():
        return None

    def announce_cleared(tenant: Tenant) -> TenantUpdated:
        return TenantUpdated(id=tenant_event_id(tenant), at=tenant.updated_at, tenant=tenant)

    tenant = await deps.tenants.clear_full_scan(
        recorded.tenant_id, recorded.run_id, deps.now(), announce_cleared
    )
    if tenant is not None:
        await announce(deps)
    return tenant
