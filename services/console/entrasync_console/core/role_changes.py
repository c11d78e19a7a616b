"""Role changes of the last days, read from the stored public events, and the filter that keeps
only the events about privilege (`entrasync-ctl events tail --privileged`).

Two kinds of event tell a role change: a directory role's `members_changed` (its direct members)
and a principal's `effective_changed` whose gains or losses name a directory role (through
groups too). One change can publish both (a user assigned a role directly): it is shown once.
`baseline` events (a tenant's first computation: the roles as they are) are no change and are
left out, with the role members first seen in the same run (its first sync).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from entrasync_shared.members import MemberRef
from entrasync_shared.messages import EffectiveChanged, MembersChanged, Model, PrivilegedRoles
from entrasync_shared.subjects import Names
from pydantic import ValidationError

from entrasync_console.core.privileged import ROLE, spelt_path
from entrasync_console.ports import EventLog

CHANGE_DAYS = 30
"""The window of "Role changes": what the events stream keeps."""
MAX_CHANGE_EVENTS = 5000
"""At most this many stored events are read for one view (the newest); older ones are not."""


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
    once, as the role's own `members_changed` says it. The run that publishes a tenant's
    `baseline` (its first sync, or the first after effective membership came) also publishes
    the roles' members as first seen: they are no change either."""
    direct: dict[tuple[str, str, str, str], RoleChange] = {}
    through: dict[tuple[str, str, str, str], RoleChange] = {}
    baseline_runs: set[str] = set()
    for event in events:
        if _is_baseline(event):
            baseline_runs.add(str(event["data"].get("run_id")))
        for change in _changes_of(event, names):
            key = (change.run_id, change.role_id, change.principal_id, change.change)
            target = direct if event.get("type", "").endswith(".members_changed") else through
            target.setdefault(key, change)
    merged = {k: v for k, v in {**through, **direct}.items() if k[0] not in baseline_runs}
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(merged.values(), key=lambda c: c.time or oldest, reverse=True)


def _is_baseline(event: Mapping[str, Any]) -> bool:
    data = event.get("data")
    return isinstance(data, Mapping) and data.get("baseline") is True


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


class PrivilegedFilter:
    """Keeps the events about privilege: a directory role's own events, a principal's roles
    gained or lost, and any event about a role's holder (directly or through a group) or about a
    group on the way to a role. Holders are learnt per tenant from history (`know`) and kept
    current from the `effective_changed` events that pass by."""

    def __init__(self) -> None:
        self._roles_of: dict[str, dict[str, set[str]]] = {}  # tenant → id → roles it gives/holds

    def knows(self, tenant_id: str) -> bool:
        return tenant_id in self._roles_of

    def know(self, roles: PrivilegedRoles) -> None:
        found: dict[str, set[str]] = {}
        for role in roles.items:
            found.setdefault(role.id, set()).add(role.id)
            for member in (*role.direct_members, *role.effective_members):
                for holder in (member.id, *member.path[1:]):
                    found.setdefault(holder, set()).add(role.id)
        self._roles_of[roles.tenant_id] = found

    def keeps(self, event: Mapping[str, Any]) -> bool:
        """Whether `event` is about privilege (and learn what it changes)."""
        data = event.get("data") or {}
        if not isinstance(data, Mapping):
            return False
        held = self._roles_of.setdefault(str(data.get("tenant_id", "")), {})
        if data.get("object_type") == ROLE:
            return True
        subject = str(data.get("object_id") or data.get("principal_id") or "")
        was_held = bool(held.get(subject))
        touched = self._learn(held, subject, data)
        return was_held or touched or bool(held.get(subject))

    @staticmethod
    def _learn(held: dict[str, set[str]], principal: str, data: Mapping[str, Any]) -> bool:
        touched = False
        for key, gained in (("gained", True), ("lost", False)):
            for entry in data.get(key) or ():
                if not isinstance(entry, Mapping) or entry.get("container_type") != ROLE:
                    continue
                touched = True
                roles = held.setdefault(principal, set())
                role = str(entry.get("container_id"))
                if gained:
                    roles.add(role)
                else:
                    roles.discard(role)
        return touched
