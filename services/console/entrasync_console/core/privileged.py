"""The privileged-access view: who holds each directory role, directly or through role-assignable
groups, each with the path that gives it, and who is eligible for one (PIM).

Members come from history (`history.privileged.roles`) with paths of container ids; this module
spells a path with names ("Global Administrator ← Tier0 Admins ← alice") and searches it. The
role changes, read from the events, are `role_changes`'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from entrasync_shared.catalog import HistoryApi
from entrasync_shared.messages import (
    EffectiveMember,
    HistoryObjectsQuery,
    InventoryItem,
    Model,
    Page,
    PrivilegedRole,
    PrivilegedRoles,
    PrivilegedRolesQuery,
)
from entrasync_shared.natsutil import ApiCallError
from pydantic import Field

from entrasync_console.ports import Services

ARROW = " ← "
ROLE: Final = "directoryRole"
PRIVILEGED_SEARCH: Final = ROLE
"""What Sync History's "Privileged only" asks history for: the directory roles' rows (a type
search; no other type's name contains it). Sync History counts objects per type, so the
principals holding a role have no rows of their own: the Privileged access view lists them."""


class PrivilegedMember(Model):
    """One line of the view: a principal holding a role, and the path that gives it."""

    role_id: str
    role_name: str
    member_type: str
    member_id: str
    member_name: str
    direct: bool
    path: tuple[str, ...] = Field(description="Container ids from the role down to the member")
    path_text: str = Field(description="The path with names: role ← groups ← member")


class PrivilegedAccess(Model):
    """Every directory role of a tenant and everyone holding it (`members`, searchable)."""

    tenant_id: str
    roles: tuple[PrivilegedRole, ...]
    members: tuple[PrivilegedMember, ...]
    search: str = ""


def known_names(roles: PrivilegedRoles) -> dict[str, str]:
    """Display names by id: history's `names`, then each role and member it names."""
    names = dict(roles.names)
    for role in roles.items:
        if role.display_name:
            names[role.id] = role.display_name
        for member in (*role.direct_members, *role.effective_members):
            if member.display_name:
                names.setdefault(member.id, member.display_name)
    return names


def spelt_path(path: Iterable[str], principal: str, names: Mapping[str, str]) -> str:
    """`Global Administrator ← Tier0 Admins ← alice`: the path's containers, then the principal."""
    return ARROW.join(names.get(part, part) for part in (*path, principal))


def member_lines(roles: PrivilegedRoles) -> list[PrivilegedMember]:
    """Every role's effective members (direct ones first), roles by name."""
    names = known_names(roles)
    lines = []
    for role in sorted(roles.items, key=lambda r: (names.get(r.id, r.id).casefold(), r.id)):
        members = role.effective_members or role.direct_members
        for member in sorted(members, key=_member_order):
            lines.append(_line(role, member, names))
    return lines


def _member_order(member: EffectiveMember) -> tuple[bool, int, str]:
    return (not member.direct, len(member.path), (member.display_name or member.id).casefold())


def _line(
    role: PrivilegedRole, member: EffectiveMember, names: Mapping[str, str]
) -> PrivilegedMember:
    path = member.path or (role.id,)
    return PrivilegedMember(
        role_id=role.id,
        role_name=names.get(role.id, role.id),
        member_type=member.type,
        member_id=member.id,
        member_name=names.get(member.id, member.id),
        direct=member.direct,
        path=path,
        path_text=spelt_path(path, member.id, names),
    )


def matching(lines: Iterable[PrivilegedMember], search: str) -> list[PrivilegedMember]:
    """The lines whose role, member, type, id or path contains `search` (any case)."""
    wanted = search.strip().casefold()
    if not wanted:
        return list(lines)
    return [line for line in lines if wanted in _haystack(line)]


def _haystack(line: PrivilegedMember) -> str:
    how = "direct" if line.direct else "effective"
    return " ".join(
        (line.path_text, line.member_type, line.member_id, line.role_id, how)
    ).casefold()


def access(roles: PrivilegedRoles, search: str = "") -> PrivilegedAccess:
    return PrivilegedAccess(
        tenant_id=roles.tenant_id,
        roles=roles.items,
        members=tuple(matching(member_lines(roles), search)),
        search=search,
    )


async def roles_of(services: Services, tenant_id: str) -> PrivilegedRoles:
    """The tenant's directory roles with their direct and effective members (history)."""
    return await services.call(
        HistoryApi.privileged_roles, PrivilegedRolesQuery(tenant_id=tenant_id)
    )


class EligibleAssignment(Model):
    """One eligible (PIM) role assignment: who may activate which role, over which scope."""

    schedule_id: str
    role_template_id: str
    role_name: str
    principal_id: str
    principal_name: str
    scope: str = Field(description="`/` for the whole tenant, else `/administrativeUnits/{id}`")
    member_type: str = ""
    status: str = ""
    ends: str | None = Field(default=None, description="When the eligibility ends; None: never")


ELIGIBILITY_PAGE: Final = 1000
"""Eligible assignments read for the view: one page of history's inventory (a tenant has few)."""


def eligible_lines(
    schedules: Iterable[InventoryItem], roles: PrivilegedRoles
) -> list[EligibleAssignment]:
    """Each schedule with its role's name (a schedule's `roleDefinitionId` is the role's
    `roleTemplateId`) and its principal's name where history named it, by role then principal."""
    names = known_names(roles)
    role_names = {r.role_template_id: names.get(r.id, r.id) for r in roles.items}
    lines = [_eligible(item, role_names, names) for item in schedules]
    return sorted(lines, key=lambda e: (e.role_name.casefold(), e.principal_name.casefold()))


def _eligible(
    item: InventoryItem, role_names: Mapping[str | None, str], names: Mapping[str, str]
) -> EligibleAssignment:
    attributes = item.attributes
    template = str(attributes.get("roleDefinitionId") or "")
    principal = str(attributes.get("principalId") or "")
    return EligibleAssignment(
        schedule_id=item.object_id,
        role_template_id=template,
        role_name=role_names.get(template, template),
        principal_id=principal,
        principal_name=names.get(principal, principal),
        scope=str(attributes.get("directoryScopeId") or "/"),
        member_type=str(attributes.get("memberType") or ""),
        status=str(attributes.get("status") or ""),
        ends=_ends(attributes.get("scheduleInfo")),
    )


def _ends(schedule: Any) -> str | None:
    expiration = schedule.get("expiration") if isinstance(schedule, dict) else None
    end = expiration.get("endDateTime") if isinstance(expiration, dict) else None
    return end if isinstance(end, str) else None


def matching_eligible(lines: Iterable[EligibleAssignment], search: str) -> list[EligibleAssignment]:
    """The eligible assignments whose role, principal, scope or ids contain `search`."""
    wanted = search.strip().casefold()
    if not wanted:
        return list(lines)
    return [
        line
        for line in lines
        if wanted
        in " ".join(
            (
                line.role_name,
                line.principal_name,
                line.principal_id,
                line.scope,
                line.role_template_id,
            )
        ).casefold()
    ]


async def eligible_of(services: Services, tenant_id: str) -> tuple[InventoryItem, ...]:
    """The tenant's eligible role assignments as history holds them (none unless it syncs
    `roleEligibility`)."""
    query = HistoryObjectsQuery(
        tenant_id=tenant_id,
        object_type="roleEligibility",
        page_size=ELIGIBILITY_PAGE,
        include_deleted=False,
    )
    page: Page[InventoryItem] = await services.call(HistoryApi.objects_list, query)
    return tuple(page.items)


async def names_of(services: Services, tenant_id: str) -> dict[str, str]:
    """The roles' and their holders' names, to spell role changes; ids alone while history
    cannot say (a change is worth showing without names)."""
    try:
        return known_names(await roles_of(services, tenant_id))
    except ApiCallError:
        return {}
