"""In-memory tenant directory: objects, a monotonic change sequence and a membership log.

Every mutation takes the next sequence number. Objects remember the sequence of their last
property/lifecycle change; membership changes go to a per-group event log so any past
membership can be reconstructed (delta rounds diff two points of that history).
"""

from __future__ import annotations

import bisect
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from entrasync_sim.schema import PROPERTIES, SOFT_DELETABLE, Kind


class DirectoryError(Exception):
    """A refused mutation; `status` and `code` say how the control API reports it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Lifecycle(Enum):
    LIVE = "live"
    SOFT_DELETED = "soft_deleted"
    HARD_DELETED = "hard_deleted"


@dataclass
class DirectoryObject:
    """One user, group or device; `changed_seq` is its last property/lifecycle change."""

    id: str
    kind: Kind
    props: dict[str, Any]
    changed_seq: int
    born_seq: int
    lifecycle: Lifecycle = Lifecycle.LIVE


@dataclass(frozen=True)
class MembershipEvent:
    seq: int
    member_id: str
    member_kind: Kind
    added: bool


@dataclass
class TenantDirectory:
    """The objects of one tenant; all access happens on the server's single event loop."""

    seq: int = 0
    objects: dict[Kind, dict[str, DirectoryObject]] = field(
        default_factory=lambda: {"users": {}, "groups": {}, "devices": {}}
    )
    sorted_ids: dict[Kind, list[str]] = field(
        default_factory=lambda: {"users": [], "groups": [], "devices": []}
    )
    members: dict[str, dict[str, Kind]] = field(default_factory=dict)
    member_log: dict[str, list[MembershipEvent]] = field(default_factory=dict)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def get(self, kind: Kind, object_id: str) -> DirectoryObject | None:
        return self.objects[kind].get(object_id.lower())

    def live(self, kind: Kind) -> list[DirectoryObject]:
        """Live objects of `kind`, sorted by id."""
        table = self.objects[kind]
        return [table[i] for i in self.sorted_ids[kind] if table[i].lifecycle is Lifecycle.LIVE]

    def find_any(self, object_id: str) -> DirectoryObject | None:
        for kind in self.objects:
            found = self.objects[kind].get(object_id.lower())
            if found is not None:
                return found
        return None

    def create(
        self, kind: Kind, props: dict[str, Any], object_id: str | None = None
    ) -> DirectoryObject:
        """Add a live object; `object_id` defaults to a fresh random GUID."""
        _check_props(kind, props)
        new_id = _parse_id(object_id) if object_id else str(uuid.uuid4())
        if self.find_any(new_id) is not None:
            raise DirectoryError(409, "conflict", f"An object with id {new_id} already exists.")
        seq = self._next_seq()
        obj = DirectoryObject(new_id, kind, dict(props), changed_seq=seq, born_seq=seq)
        self.objects[kind][new_id] = obj
        bisect.insort(self.sorted_ids[kind], new_id)
        if kind == "groups":
            self.members[new_id] = {}
            self.member_log[new_id] = []
        return obj

    def update(self, kind: Kind, object_id: str, props: dict[str, Any]) -> DirectoryObject:
        """Merge `props` into a live object; a None value stores null."""
        _check_props(kind, props)
        obj = self._require(kind, object_id, Lifecycle.LIVE)
        obj.props.update(props)
        obj.changed_seq = self._next_seq()
        return obj

    def delete(self, kind: Kind, object_id: str, hard: bool = False) -> None:
        """Soft-delete (users, groups) or hard-delete; hard delete also drops memberships."""
        obj = self._require(kind, object_id, None)
        if obj.lifecycle is Lifecycle.HARD_DELETED:
            raise DirectoryError(404, "notFound", f"{kind} {object_id} does not exist.")
        if kind not in SOFT_DELETABLE:
            hard = True
        if not hard and obj.lifecycle is Lifecycle.SOFT_DELETED:
            raise DirectoryError(409, "conflict", f"{kind} {object_id} is already deleted.")
        if hard:
            self._drop_memberships(obj.id)
            obj.lifecycle = Lifecycle.HARD_DELETED
        else:
            obj.lifecycle = Lifecycle.SOFT_DELETED
        obj.changed_seq = self._next_seq()

    def restore(self, kind: Kind, object_id: str) -> DirectoryObject:
        """Bring a soft-deleted object back; delta reports it like a new one."""
        obj = self._require(kind, object_id, Lifecycle.SOFT_DELETED)
        obj.lifecycle = Lifecycle.LIVE
        obj.changed_seq = obj.born_seq = self._next_seq()
        return obj

    def change_members(self, group_id: str, add: list[str], remove: list[str]) -> None:
        """Add and remove members of a live group; all ids are checked before any change."""
        group = self._require("groups", group_id, Lifecycle.LIVE)
        current = self.members[group.id]
        to_add: list[DirectoryObject] = []
        for member_id in add:
            member = self.find_any(member_id)
            if member is None or member.lifecycle is not Lifecycle.LIVE:
                raise DirectoryError(404, "notFound", f"Member {member_id} does not exist.")
            if member.id == group.id:
                raise DirectoryError(400, "badRequest", "A group cannot be its own member.")
            to_add.append(member)
        removals = [m.lower() for m in remove]
        for member_id in removals:
            if member_id not in current:
                raise DirectoryError(404, "notFound", f"{member_id} is not a member.")
        for member_id in removals:
            self._log_member(group.id, member_id, current[member_id], added=False)
        for member in to_add:
            if member.id not in current:
                self._log_member(group.id, member.id, member.kind, added=True)

    def members_at(self, group_id: str, seq: int) -> dict[str, Kind]:
        """Members of a group as they were right after change `seq`."""
        result = dict(self.members.get(group_id, {}))
        for event in reversed(self.member_log.get(group_id, [])):
            if event.seq <= seq:
                break
            if event.added:
                result.pop(event.member_id, None)
            else:
                result[event.member_id] = event.member_kind
        return result

    def members_changed(self, group_id: str, after: int, upto: int) -> bool:
        """Whether the group's membership changed within (after, upto]."""
        log = self.member_log.get(group_id, [])
        first_after = bisect.bisect_right(log, after, key=lambda event: event.seq)
        return first_after < len(log) and log[first_after].seq <= upto

    def _log_member(self, group_id: str, member_id: str, kind: Kind, added: bool) -> None:
        seq = self._next_seq()
        if added:
            self.members[group_id][member_id] = kind
        else:
            del self.members[group_id][member_id]
        self.member_log[group_id].append(MembershipEvent(seq, member_id, kind, added))

    def _drop_memberships(self, object_id: str) -> None:
        for group_id, current in self.members.items():
            if object_id in current:
                self._log_member(group_id, object_id, current[object_id], added=False)
        if object_id in self.members:
            self.members[object_id] = {}

    def _require(self, kind: Kind, object_id: str, state: Lifecycle | None) -> DirectoryObject:
        obj = self.get(kind, object_id)
        if obj is None or obj.lifecycle is Lifecycle.HARD_DELETED:
            raise DirectoryError(404, "notFound", f"{kind} {object_id} does not exist.")
        if state is not None and obj.lifecycle is not state:
            raise DirectoryError(409, "conflict", f"{kind} {object_id} is {obj.lifecycle.value}.")
        return obj


def _check_props(kind: Kind, props: dict[str, Any]) -> None:
    unknown = sorted(set(props) - PROPERTIES[kind])
    if unknown:
        raise DirectoryError(400, "badRequest", f"Unknown {kind} properties: {unknown}.")


def _parse_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise DirectoryError(400, "badRequest", f"Invalid object id: {value!r}.") from None
