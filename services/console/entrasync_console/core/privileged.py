"""The privileged-access view: who holds each directory role, directly or through role-assignable
groups, each with the path that gives it.

Members come from history (`history.privileged.roles`) with paths of container ids; this module
spells a path with names ("Global Administrator ← Tier0 Admins ← alice") and searches it. The
role changes, read from the events, are `role_changes`'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from entrasync_shared.catalog import HistoryApi
from entrasync_shared.messages import (
    EffectiveMember,
    Model,
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


async def names_of(services: Services, tenant_id: str) -> dict[str, str]:
    """The roles' and their holders' names, to spell role changes; ids alone while history
    cannot say (a change is worth showing without names)."""
    try:
        return known_names(await roles_of(services, tenant_id))
    except ApiCallError:
        return {}
