"""`/api/v1/credential-profiles`: the Credential Profiles page's resource."""

from __future__ import annotations

from entrasync_shared.catalog import ConfigApi
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    ProfileDelete,
    ProfileRef,
    ProfileUpdate,
)
from fastapi import Request, Response

from entrasync_console.api import bodies
from entrasync_console.api.common import Id, Version, router, schemas, services

PROFILE_LINKS = {
    name: {"operationId": operation, "parameters": {"profile_id": "$response.body#/id"}}
    for name, operation in [
        ("GetProfile", "getProfile"),
        ("UpdateProfile", "updateProfile"),
        ("DeleteProfile", "deleteProfile"),
    ]
}


@router.get(
    "/credential-profiles",
    response_model=list[CredentialProfile],
    tags=["profiles"],
    operation_id="listProfiles",
)
async def list_profiles(request: Request) -> list[CredentialProfile]:
    return await services(request).call(ConfigApi.profile_list)


@router.post(
    "/credential-profiles",
    status_code=201,
    response_model=CredentialProfile,
    tags=["profiles"],
    openapi_extra=schemas.register(CredentialProfileCreate),
    summary="Add a credential profile (the secret is write-only)",
    responses={201: {"links": PROFILE_LINKS}},
    operation_id="createProfile",
)
async def create_profile(request: Request, response: Response) -> CredentialProfile:
    body = await bodies.read_body(request, CredentialProfileCreate)
    profile = await services(request).call(ConfigApi.profile_create, body)
    response.headers["location"] = f"{router.prefix}/credential-profiles/{profile.id}"
    return profile


@router.get(
    "/credential-profiles/{profile_id}",
    response_model=CredentialProfile,
    tags=["profiles"],
    operation_id="getProfile",
)
async def get_profile(request: Request, profile_id: Id) -> CredentialProfile:
    return await services(request).call(ConfigApi.profile_get, ProfileRef(profile_id=profile_id))


@router.patch(
    "/credential-profiles/{profile_id}",
    response_model=CredentialProfile,
    tags=["profiles"],
    openapi_extra=schemas.register(ProfileUpdate, drop="profile_id", name="ProfilePatch"),
    summary="Change a credential profile (`version` guards against lost updates)",
    operation_id="updateProfile",
)
async def update_profile(request: Request, profile_id: Id) -> CredentialProfile:
    body = await bodies.read_body(request, ProfileUpdate, profile_id=profile_id)
    return await services(request).call(ConfigApi.profile_update, body)


@router.delete(
    "/credential-profiles/{profile_id}",
    status_code=204,
    response_class=Response,
    tags=["profiles"],
    summary="Delete a credential profile (409 `in_use` while a tenant uses it)",
    operation_id="deleteProfile",
)
async def delete_profile(request: Request, profile_id: Id, version: Version = None) -> Response:
    await services(request).call(
        ConfigApi.profile_delete, ProfileDelete(profile_id=profile_id, version=version)
    )
    return Response(status_code=204)


# -- tenants ----------------------------------------------------------------------------------
