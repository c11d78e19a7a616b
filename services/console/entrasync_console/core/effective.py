"""Effective membership as operators read it: who is in a group, directory role or unit,
directly or through nested groups, and what a principal is in, each line with its path spelt in
names ("Global Administrator ← Tier0 Admins ← alice").

History answers with paths of container ids (`history.effective.members` and
`.memberships`); this module spells them, and finds an object named by displayName or
userPrincipalName through history's inventory when the operator has no id at hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from entrasync_shared.catalog import HistoryApi
from entrasync_shared.members import MemberType
from entrasync_shared.messages import (
    ApiError,
    EffectiveContainer,
    EffectiveMember,
    EffectiveMembers,
    EffectiveMembership,
    EffectiveMemberships,
    EffectiveMembershipsQuery,
    EffectiveMembersQuery,
    HistoryObjectsQuery,
    Model,
)
from entrasync_shared.natsutil import ApiCallError
from entrasync_shared.subjects import CONTAINER_TYPES, ObjectType
from pydantic import Field

from entrasync_console.core.ops import not_found
from entrasync_console.core.privileged import spelt_path
from entrasync_console.ports import Services

PRINCIPAL_TYPES: Final[tuple[ObjectType, ...]] = (
    "user",
    "group",
    "servicePrincipal",
    "device",
    "orgContact",
)
GUID: Final = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
NAME_FIELDS: Final = ("displayName", "userPrincipalName")


class MemberLine(Model):
    """A principal effectively in the container, and the path that puts it there."""

    member_type: MemberType
    member_id: str
    member_name: str = Field(description="Its display name, or its id when unknown")
    direct: bool
    path: tuple[str, ...] = Field(description="Container ids from the container down")
    path_text: str = Field(description="The path with names: container ← groups ← member")


class EffectiveMembersView(Model):
    """One page of who is effectively in a group, directory role or administrative unit."""

    tenant_id: str
    container: EffectiveContainer
    total: int = Field(description="Effective members in all (direct ones included)")
    direct: int = Field(description="How many of them are direct members")
    page: int
    page_size: int
    items: tuple[MemberLine, ...]


class MembershipLine(Model):
    """A group, directory role or unit the principal is effectively in, and the path."""

    container_type: str
    container_id: str
    container_name: str = Field(description="Its display name, or its id when unknown")
    role_template_id: str | None = Field(default=None, description="A directory role's template")
    direct: bool
    path: tuple[str, ...] = Field(description="Container ids from the container down")
    path_text: str = Field(description="The path with names: container ← groups ← principal")


class EffectiveMembershipsView(Model):
    """What a principal is effectively in: groups and roles, then administrative units."""

    tenant_id: str
    principal_id: str
    principal_type: MemberType
    principal_name: str
    items: tuple[MembershipLine, ...]


def _names(names: Mapping[str, str], *known: tuple[str, str | None]) -> dict[str, str]:
    spelt = dict(names)
    spelt.update({i: name for i, name in known if name})
    return spelt


def members_view(found: EffectiveMembers) -> EffectiveMembersView:
    box = found.container
    names = _names(
        found.names, (box.id, box.display_name), *((m.id, m.display_name) for m in found.items)
    )
    return EffectiveMembersView(
        tenant_id=found.tenant_id,
        container=box,
        total=found.total,
        direct=found.direct,
        page=found.page,
        page_size=found.page_size,
        items=tuple(_member_line(m, names) for m in found.items),
    )


def _member_line(member: EffectiveMember, names: Mapping[str, str]) -> MemberLine:
    return MemberLine(
        member_type=member.type,
        member_id=member.id,
        member_name=names.get(member.id, member.id),
        direct=member.direct,
        path=member.path,
        path_text=spelt_path(member.path, member.id, names),
    )


def memberships_view(found: EffectiveMemberships) -> EffectiveMembershipsView:
    principal = found.principal_id
    names = _names(
        found.names,
        (principal, found.display_name),
        *((m.container.id, m.container.display_name) for m in found.items),
    )
    return EffectiveMembershipsView(
        tenant_id=found.tenant_id,
        principal_id=principal,
        principal_type=found.principal_type,
        principal_name=names.get(principal, principal),
        items=tuple(_membership_line(m, principal, names) for m in found.items),
    )


def _membership_line(
    membership: EffectiveMembership, principal: str, names: Mapping[str, str]
) -> MembershipLine:
    box = membership.container
    return MembershipLine(
        container_type=box.type,
        container_id=box.id,
        container_name=names.get(box.id, box.id),
        role_template_id=box.role_template_id,
        direct=membership.direct,
        path=membership.path,
        path_text=spelt_path(membership.path, principal, names),
    )


async def members_of(
    services: Services, tenant_id: str, container_id: str, page: int = 1, page_size: int = 100
) -> EffectiveMembersView:
    """Who is effectively in a container (history's `not_found` for no such live one)."""
    query = EffectiveMembersQuery(
        tenant_id=tenant_id, container_id=container_id, page=page, page_size=page_size
    )
    return members_view(await services.call(HistoryApi.effective_members, query))


async def memberships_of(
    services: Services, tenant_id: str, principal_id: str
) -> EffectiveMembershipsView:
    """What a principal is effectively in; `not_found` when history knows nothing of it (it
    answers an unknown id with nothing, which would read as "in no group")."""
    query = EffectiveMembershipsQuery(tenant_id=tenant_id, principal_id=principal_id)
    found = await services.call(HistoryApi.effective_memberships, query)
    if not found.items and found.principal_type == "unknown" and not found.display_name:
        raise ApiCallError(
            ApiError(
                code="not_found",
                message=f"no object {principal_id!r} in tenant {tenant_id}",
                field="principal_id",
            )
        )
    return memberships_view(found)


async def find_object(
    services: Services, tenant_id: str, ref: str, types: tuple[ObjectType, ...]
) -> str:
    """The id of the live object of `types` that `ref` names: an object id (a GUID, taken as
    it is) or an exact displayName/userPrincipalName (any case), found in history's inventory
    with one search per type; `conflict` when several objects bear the name."""
    if GUID.match(ref.strip()):
        return ref.strip()
    wanted = ref.strip().casefold()
    found: dict[str, str] = {}
    for object_type in types:
        query = HistoryObjectsQuery(
            tenant_id=tenant_id,
            object_type=object_type,
            search=ref.strip(),
            include_deleted=False,
            page_size=100,
        )
        page = await services.call(HistoryApi.objects_list, query)
        for item in page.items:
            spelt = {str(item.attributes.get(f) or "").casefold() for f in NAME_FIELDS}
            if wanted in spelt or item.object_id.casefold() == wanted:
                found[item.object_id] = object_type
    if len(found) > 1:
        ids = ", ".join(f"{i} ({t})" for i, t in sorted(found.items()))
        raise ApiCallError(ApiError(code="conflict", message=f"{ref!r} names several: {ids}"))
    if not found:
        raise not_found("object", ref)
    return next(iter(found))


async def find_container(services: Services, tenant_id: str, ref: str) -> str:
    """A group, directory role or administrative unit by id or name."""
    return await find_object(services, tenant_id, ref, CONTAINER_TYPES)


async def find_principal(services: Services, tenant_id: str, ref: str) -> str:
    """A user, group, service principal, device or contact by id or name."""
    return await find_object(services, tenant_id, ref, PRINCIPAL_TYPES)
