"""Effective membership: who is in a group, directory role or administrative unit, directly or
through nested groups, and what a principal is in, each line with its path spelt in names."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from entrasync_console.api.common import ID_PATTERN, Id, router, services
from entrasync_console.core import effective, views

ObjectId = Annotated[str, Query(min_length=1, max_length=64, pattern=ID_PATTERN)]


@router.get(
    "/tenants/{tenant_id}/effective/members",
    response_model=effective.EffectiveMembersView,
    tags=["history"],
    summary="Who is in a group, directory role or unit, directly or through nested groups",
    description="One page of the container's effective members, direct ones first, each with "
    "the path that puts it there (container ← groups ← member). 404 when the tenant holds no "
    "such live container.",
    operation_id="listEffectiveMembers",
)
async def effective_members(
    request: Request,
    tenant_id: Id,
    container: Annotated[ObjectId, Query(description="The container's object id")],
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> effective.EffectiveMembersView:
    backend = services(request)
    await views.current_tenant(backend, tenant_id)
    return await effective.members_of(backend, tenant_id, container, page, page_size)


@router.get(
    "/tenants/{tenant_id}/effective/memberships",
    response_model=effective.EffectiveMembershipsView,
    tags=["history"],
    summary="What a principal is in (groups, directory roles, units), with paths",
    description="The groups and directory roles (with their roleTemplateId), then the "
    "administrative units the principal is in, directly or through nested groups, each with "
    "its path (container ← groups ← principal). 404 when history knows no such object.",
    operation_id="listEffectiveMemberships",
)
async def effective_memberships(
    request: Request,
    tenant_id: Id,
    principal: Annotated[ObjectId, Query(description="The principal's object id")],
) -> effective.EffectiveMembershipsView:
    backend = services(request)
    await views.current_tenant(backend, tenant_id)
    return await effective.memberships_of(backend, tenant_id, principal)
