"""Config's request-reply API: one handler per `catalog.ConfigApi` endpoint.

`kit.ApiRouter` parses each request strictly into its catalog model, so malformed input is a
`validation` reply and nothing is stored or published; a `ConfigError` answers its code, any
MongoDB error `unavailable`.
"""

from __future__ import annotations

from entrasync_shared.catalog import ConfigApi, NoArguments
from entrasync_shared.kit.api import ApiRouter
from entrasync_shared.messages import (
    ConnectionTest,
    ConnectionTestResult,
    Credential,
    CredentialProfile,
    CredentialProfileCreate,
    Health,
    KeysReencrypted,
    ProfileDelete,
    ProfileRef,
    ProfileUpdate,
    Tenant,
    TenantCreate,
    TenantDelete,
    TenantRef,
    TenantTest,
    TenantUpdate,
)
from pymongo.errors import PyMongoError

from entrasync_config import usecases
from entrasync_config.ports import Deps

api = ApiRouter[Deps](
    "config",
    "entrasync credential profiles, tenant policies and Test Connection",
    # Any database error, not only the outages the consumer retries: a refused API call
    # changes nothing, and the caller may retry.
    outages=(PyMongoError,),
)


@api.handles(ConfigApi.profile_create)
async def create_profile(request: CredentialProfileCreate, deps: Deps) -> CredentialProfile:
    return await usecases.create_profile(request, deps)


@api.handles(ConfigApi.profile_list)
async def list_profiles(request: NoArguments, deps: Deps) -> list[CredentialProfile]:
    return await usecases.list_profiles(deps)


@api.handles(ConfigApi.profile_get)
async def get_profile(request: ProfileRef, deps: Deps) -> CredentialProfile:
    return await usecases.get_profile(request, deps)


@api.handles(ConfigApi.profile_update)
async def update_profile(request: ProfileUpdate, deps: Deps) -> CredentialProfile:
    return await usecases.update_profile(request, deps)


@api.handles(ConfigApi.profile_delete)
async def delete_profile(request: ProfileDelete, deps: Deps) -> CredentialProfile:
    return await usecases.delete_profile(request, deps)


@api.handles(ConfigApi.tenant_create)
async def create_tenant(request: TenantCreate, deps: Deps) -> Tenant:
    return await usecases.create_tenant(request, deps)


@api.handles(ConfigApi.tenant_list)
async def list_tenants(request: NoArguments, deps: Deps) -> list[Tenant]:
    return await usecases.list_tenants(deps)


@api.handles(ConfigApi.tenant_get)
async def get_tenant(request: TenantRef, deps: Deps) -> Tenant:
    return await usecases.get_tenant(request, deps)


@api.handles(ConfigApi.tenant_update)
async def update_tenant(request: TenantUpdate, deps: Deps) -> Tenant:
    return await usecases.update_tenant(request, deps)


@api.handles(ConfigApi.tenant_delete)
async def delete_tenant(request: TenantDelete, deps: Deps) -> Tenant:
    return await usecases.delete_tenant(request, deps)


@api.handles(ConfigApi.tenant_test)
async def run_tenant_test(request: TenantTest, deps: Deps) -> ConnectionTestResult:
    return await usecases.run_tenant_test(request, deps)


@api.handles(ConfigApi.connection_test)
async def run_connection_test(request: ConnectionTest, deps: Deps) -> ConnectionTestResult:
    return await usecases.run_unsaved_test(request, deps)


@api.handles(ConfigApi.credential_get)
async def get_credential(request: TenantRef, deps: Deps) -> Credential:
    return await usecases.get_credential(request, deps)


@api.handles(ConfigApi.keys_reencrypt)
async def reencrypt_keys(request: NoArguments, deps: Deps) -> KeysReencrypted:
    return await usecases.reencrypt_secrets(deps)


@api.handles(ConfigApi.health)
async def health(request: NoArguments, deps: Deps) -> Health:
    return await usecases.check_health(deps)
