"""The privileged-access view: who holds each directory role, directly or through role-assignable
groups, and the role changes of the last 30 days read from the public events.

Members come from history (`history.privileged.roles`), with paths of container ids; this module
spells a path with names ("Global Administrator ← Tier0 Admins ← alice") and searches it. Role
changes come from two kinds of stored events: a directory role's `members_changed` (its direct
members) and a principal's `effective_changed` whose gains or losses name a directory role
(through groups too). One change can publish both (a user assigned a role directly): it is shown
once. `baseline` events (a tenant's first computation: the roles as they are) are no change and
are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from entrasync_shared.catalog import HistoryApi
from entrasync_shared.members import MemberRef
from entrasync_shared.messages import (
    EffectiveChanged,
    EffectiveMember,
    MembersChanged,
    Model,
    PrivilegedRole,
    PrivilegedRoles,
    PrivilegedRolesQuery,
)
from entrasync_shared.natsutil import ApiCallError
from entrasync_shared.subjects import Names
from pydantic import Field, ValidationError

from entrasync_console.ports import EventLog, Services

ARROW = " ← "
CHANGE_DAYS = 30
"""The window of "Role changes": what the events stream keeps."""
MAX_CHANGE_EVENTS = 5000
"""At most this many stored events are read for one view (the newest); older ones are not."""
ROLE: Final = "directoryRole"


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


class RoleChange(Model):
    """A principal gained or lost a directory role (directly or through a group)."""

    time: datetime | None
    change: Literal["added", "removed"]
    role_id: str
    role_name: str
    principal_type: str
    principal_id: str
    principal_name: str
    direct: bool
    path: tuple[str, ...]
    path_text: str
    run_id: str
    event_id: str


class RoleChanges(Model):
    """Role changes, newest first; `complete` is false when older events were left unread."""

    tenant_id: str
    since: datetime
    items: tuple[RoleChange, ...]
    complete: bool


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


def privileged_ids(roles: PrivilegedRoles) -> set[str]:
    """Every role and everyone holding one (directly or through a group)."""
    found = {role.id for role in roles.items}
    for role in roles.items:
        found.update(m.id for m in (*role.direct_members, *role.effective_members))
        found.update(part for m in role.effective_members for part in m.path)
    return found


# -- role changes from events -------------------------------------------------------------------


def change_subjects(names: Names, tenant_id: str) -> tuple[str, ...]:
    """Where a tenant's role changes are published: roles' members and everyone's effective
    memberships (the subject names the principal's type, not the container's)."""
    return (
        names.directory_event(tenant_id, ROLE, "members_changed"),
        names.effective_changed(tenant_id, "*"),
    )


def role_changes(events: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> list[RoleChange]:
    """The role changes the events (CloudEvents envelopes, any order) tell, newest first.

    A change both kinds of event report (same run, role, principal and direction) is kept
    once, as the role's own `members_changed` says it."""
    direct: dict[tuple[str, str, str, str], RoleChange] = {}
    through: dict[tuple[str, str, str, str], RoleChange] = {}
    for event in events:
        for change in _changes_of(event, names):
            key = (change.run_id, change.role_id, change.principal_id, change.change)
            target = direct if event.get("type", "").endswith(".members_changed") else through
            target.setdefault(key, change)
    merged = {**through, **direct}
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(merged.values(), key=lambda c: c.time or oldest, reverse=True)


def _changes_of(event: Mapping[str, Any], names: Mapping[str, str]) -> list[RoleChange]:
    kind = str(event.get("type", ""))
    try:
        if kind.endswith(f".{ROLE}.members_changed"):
            return _assignments(event, MembersChanged.model_validate(event.get("data")), names)
        if kind.endswith(".effective_changed"):
            return _effective(event, EffectiveChanged.model_validate(event.get("data")), names)
    except ValidationError:
        return []  # a newer producer's shape this console does not know: not a role change
    return []


def _assignments(
    event: Mapping[str, Any], data: MembersChanged, names: Mapping[str, str]
) -> list[RoleChange]:
    added = data.added_members or tuple(_untyped(i) for i in data.added)
    removed = data.removed_members or tuple(_untyped(i) for i in data.removed)
    made = [(ref, "added") for ref in added] + [(ref, "removed") for ref in removed]
    return [
        _change(
            event, data.run_id, change, data.object_id, ref.type, ref.id, (data.object_id,), names
        )
        for ref, change in made
    ]


def _untyped(object_id: str) -> MemberRef:
    return MemberRef(type="unknown", id=object_id)


def _effective(
    event: Mapping[str, Any], data: EffectiveChanged, names: Mapping[str, str]
) -> list[RoleChange]:
    if data.baseline:
        return []
    made = [(m, "added") for m in data.gained] + [(m, "removed") for m in data.lost]
    return [
        _change(
            event,
            data.run_id,
            change,
            m.container_id,
            data.principal_type,
            data.principal_id,
            m.path or (m.container_id,),
            names,
        )  # fmt: skip
        for m, change in made
        if m.container_type == ROLE
    ]


def _change(
    event: Mapping[str, Any],
    run_id: str,
    change: str,
    role_id: str,
    principal_type: str,
    principal_id: str,
    path: tuple[str, ...],
    names: Mapping[str, str],
) -> RoleChange:
    return RoleChange(
        time=_time(event.get("time")),
        change=change,  # type: ignore[arg-type]
        role_id=role_id,
        role_name=names.get(role_id, role_id),
        principal_type=principal_type,
        principal_id=principal_id,
        principal_name=names.get(principal_id, principal_id),
        direct=len(path) == 1,
        path=path,
        path_text=spelt_path(path, principal_id, names),
        run_id=run_id,
        event_id=str(event.get("id", "")),
    )


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def matching_changes(changes: Iterable[RoleChange], search: str) -> list[RoleChange]:
    """The changes whose role, principal, type, direction or path contains `search`."""
    wanted = search.strip().casefold()
    if not wanted:
        return list(changes)
    return [c for c in changes if wanted in _change_haystack(c)]


def _change_haystack(change: RoleChange) -> str:
    parts = (change.path_text, change.change, change.principal_type, change.principal_id)
    return " ".join((*parts, change.role_id, change.run_id)).casefold()


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


async def recent_role_changes(
    events: EventLog,
    names: Names,
    tenant_id: str,
    known: Mapping[str, str],
    now: datetime,
    days: int = CHANGE_DAYS,
) -> RoleChanges:
    """The tenant's role changes of the last `days` days, newest first."""
    since = now - timedelta(days=days)
    stored = await events.newest(change_subjects(names, tenant_id), since, MAX_CHANGE_EVENTS)
    items = role_changes(stored.events, known)
    return RoleChanges(
        tenant_id=tenant_id, since=since, items=tuple(items), complete=stored.complete
    )
