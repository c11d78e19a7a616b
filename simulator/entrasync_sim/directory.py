"""In-memory tenant directory: objects, a monotonic change sequence and a membership log.

Every mutation takes the next sequence number and is appended to a per-kind change index, so
a delta round finds what changed in (since, upto] by bisection instead of a scan. Objects
remember the sequence of each property change (sparse `return=minimal` answers); membership
changes go to a per-group event log so any past membership can be reconstructed. Seeding loads
objects in bulk under one sequence number and logs nothing: no round can start before it.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from entrasync_sim.schema import (
    KINDS,
    MEMBER_KINDS,
    MEMBER_TYPES,
    ODATA_TYPES,
    PROPERTIES,
    SOFT_DELETABLE,
    Kind,
    soft_deletable,
)

_REF_PREFIX = {kind: '{"@odata.type":"' + ODATA_TYPES[kind] + '","id":"' for kind in KINDS}


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


class DirectoryObject:
    """One user, group or device; `changed_seq` is its last property/lifecycle change."""

    __slots__ = (
        "id",
        "kind",
        "props",
        "changed_seq",
        "born_seq",
        "restored",
        "lifecycle",
        "prop_seq",
        "text",
        "text_names",
        "text_seq",
    )

    def __init__(self, object_id: str, kind: Kind, props: dict[str, Any], seq: int) -> None:
        self.id = object_id
        self.kind: Kind = kind
        self.props = props
        self.changed_seq = seq
        self.born_seq = seq
        self.restored = False  # born_seq is its last restore, not its creation
        self.lifecycle = Lifecycle.LIVE
        self.prop_seq: dict[str, int] | None = None
        # A group's JSON head in its last full-round rendering, for which names, at which
        # changed_seq (three slots, not a tuple: one more object for the collector each).
        self.text = ""
        self.text_names: tuple[str, ...] | None = None
        self.text_seq = 0

    @property
    def ref(self) -> str:
        """Its `members@delta` reference as JSON."""
        return _REF_PREFIX[self.kind] + self.id + '"}'

    def changed_since(self, since: int) -> list[str]:
        """Names of properties changed after `since` (for sparse delta answers)."""
        if self.born_seq > since or self.prop_seq is None:
            return list(self.props) if self.born_seq > since else []
        return [name for name, seq in self.prop_seq.items() if seq > since]

    def props_changed_within(self, after: int, upto: int, names: Iterable[str]) -> bool:
        """Whether one of `names` was set within (after, upto] (creation and restore aside)."""
        prop_seq = self.prop_seq
        if prop_seq is None:
            return False
        return any(after < prop_seq.get(name, 0) <= upto for name in names)


class MembershipEvent(NamedTuple):
    seq: int
    member_id: str
    member_kind: Kind
    added: bool


class Change(NamedTuple):
    """What a mutation did, as change notifications describe it."""

    kind: Kind
    object_id: str
    change_type: str  # "updated" (also creations, soft deletes, restores) or "deleted"
    members_of: str | None = None  # set when the membership of a group (role, unit) changed


Listener = Callable[[Change], None]


class _ChangeIndex:
    """Sequence-ordered (seq, id) pairs of one kind, with memoised round snapshots."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.ids: list[str] = []
        self.memo: dict[tuple[Any, ...], list[str]] = {}

    def append(self, seq: int, object_id: str) -> None:
        self.seqs.append(seq)
        self.ids.append(object_id)

    def between(self, after: int, upto: int) -> list[str]:
        """Sorted distinct ids changed within (after, upto]; cached, entries never change."""
        key = ("between", after, upto)
        cached = self.memo.get(key)
        if cached is None:
            low = bisect.bisect_right(self.seqs, after)
            high = bisect.bisect_right(self.seqs, upto)
            cached = sorted(set(self.ids[low:high]))
            self.remember(key, cached)
        return cached

    def remember(self, key: tuple[Any, ...], ids: list[str]) -> None:
        """Keep a computed id list (bounded: the oldest goes first)."""
        if len(self.memo) >= 32:
            self.memo.pop(next(iter(self.memo)))
        self.memo[key] = ids


@dataclass
class PageCache:
    """Pages of full rounds as JSON pieces, all rendered at directory sequence `seq`.

    Past `max_chars` characters of their own (member slices are the directory's, not
    counted) it starts over: a 100k-user tenant's three rounds with the syncer's `$select`s
    hold about 45 M, so the default keeps several `$select`s or page sizes, not every one.
    """

    max_chars: int = 256 * 2**20
    seq: int = -1
    chars: int = 0
    pages: dict[tuple[Any, ...], tuple[list[str], tuple[str, int] | None]] = field(
        default_factory=dict
    )


class TenantDirectory:
    """The objects of one tenant; all access happens on the server's single event loop."""

    def __init__(self) -> None:
        self.seq = 0
        self.objects: dict[Kind, dict[str, DirectoryObject]] = {k: {} for k in KINDS}
        self.sorted_ids: dict[Kind, list[str]] = {k: [] for k in KINDS}
        # The objects in `sorted_ids` order: a full round walks them without dict lookups.
        self.sorted_objects: dict[Kind, list[DirectoryObject]] = {k: [] for k in KINDS}
        # Members of groups, directory roles and administrative units, by their id (ids are
        # unique across kinds), and the kind of each of those.
        self.members: dict[str, dict[str, Kind]] = {}
        self.container_kinds: dict[str, Kind] = {}
        self.member_log: dict[str, list[MembershipEvent]] = {}
        self.changes: dict[Kind, _ChangeIndex] = {k: _ChangeIndex() for k in KINDS}
        self.listeners: list[Listener] = []
        # Bumped by every lifecycle change: cached live-member lists are valid for one epoch.
        self.lifecycle_epoch = 0
        self.member_texts: dict[str, tuple[tuple[int, int, int], list[str]]] = {}
        # Rendered full-round pages, valid while `seq` stays what it was when they were made.
        self.page_texts = PageCache()
        # The `members@delta` reference of every live object: also the liveness index that
        # lets a group's live members be listed without visiting each member object.
        self.live_refs: dict[str, str] = {}

    # -- reading -------------------------------------------------------------------------

    def get(self, kind: Kind, object_id: str) -> DirectoryObject | None:
        return self.objects[kind].get(object_id.lower())

    def live(self, kind: Kind) -> list[DirectoryObject]:
        """Live objects of `kind`, sorted by id."""
        return [obj for obj in self.sorted_objects[kind] if obj.lifecycle is Lifecycle.LIVE]

    def live_count(self, kind: Kind) -> int:
        return sum(1 for o in self.objects[kind].values() if o.lifecycle is Lifecycle.LIVE)

    def find_any(self, object_id: str) -> DirectoryObject | None:
        key = object_id.lower()
        for table in self.objects.values():
            found = table.get(key)
            if found is not None:
                return found
        return None

    def is_live(self, object_id: str) -> bool:
        return object_id.lower() in self.live_refs

    def member_ref(self, member_id: str, kind: Kind) -> str:
        """A member's `members@delta` reference, live or soft-deleted (edges outlive a soft
        delete)."""
        return self.live_refs.get(member_id) or _REF_PREFIX[kind] + member_id + '"}'

    def live_members(self, group_id: str) -> list[str]:
        """Sorted ids of the group's live members (soft-deleted ones keep hidden edges)."""
        return sorted(m for m in self.members.get(group_id, {}) if self.is_live(m))

    def members_at(self, group_id: str, seq: int) -> dict[str, Kind]:
        """Members (edges, live or not) of a group as they were right after change `seq`."""
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

    # -- seeding -------------------------------------------------------------------------

    def bulk_load(
        self,
        kind: Kind,
        rows: Iterable[tuple[str, dict[str, Any]]],
        memberships: Iterator[tuple[str, dict[str, Kind]]] | None = None,
    ) -> None:
        """Add many live objects (and group members) under one sequence number, unlogged.

        Objects are made in the order of `rows`: rows in id order (made in that order, see
        `seed`) put each object next to its neighbours in a round in memory.
        """
        seq = self._next_seq()
        table = self.objects[kind]
        refs = self.live_refs
        for object_id, props in rows:
            obj = table[object_id] = DirectoryObject(object_id, kind, props, seq)
            refs[object_id] = obj.ref
        self.sorted_ids[kind] = sorted(table)
        self.sorted_objects[kind] = [table[i] for i in self.sorted_ids[kind]]
        if kind in MEMBER_KINDS:
            for group_id in table:
                self.members.setdefault(group_id, {})
                self.member_log.setdefault(group_id, [])
                self.container_kinds[group_id] = kind
            for group_id, members in memberships or ():
                # Kept in id order, the order every round lists them in.
                self.members[group_id] = dict(sorted(members.items()))

    # -- mutations -----------------------------------------------------------------------

    def create(
        self, kind: Kind, props: dict[str, Any], object_id: str | None = None
    ) -> DirectoryObject:
        """Add a live object; `object_id` defaults to a fresh random GUID."""
        self.check_create(kind, props, object_id)
        new_id = parse_id(object_id) if object_id else str(uuid.uuid4())
        seq = self._next_seq()
        obj = DirectoryObject(new_id, kind, dict(props), seq)
        self.objects[kind][new_id] = obj
        self.live_refs[new_id] = obj.ref
        position = bisect.bisect(self.sorted_ids[kind], new_id)
        self.sorted_ids[kind].insert(position, new_id)
        self.sorted_objects[kind].insert(position, obj)
        if kind in MEMBER_KINDS:
            self.members[new_id] = {}
            self.member_log[new_id] = []
            self.container_kinds[new_id] = kind
        self._touched(obj, "updated")
        return obj

    def update(self, kind: Kind, object_id: str, props: dict[str, Any]) -> DirectoryObject:
        """Merge `props` into a live object; a None value stores null."""
        self.check_update(kind, object_id, props)
        obj = self._require(kind, object_id, Lifecycle.LIVE)
        seq = self._next_seq()
        obj.props.update(props)
        if obj.prop_seq is None:
            obj.prop_seq = {}
        for name in props:
            obj.prop_seq[name] = seq
        obj.changed_seq = seq
        self._touched(obj, "updated")
        return obj

    def delete(self, kind: Kind, object_id: str, hard: bool = False) -> None:
        """Soft-delete (users, Microsoft 365 groups) or hard-delete (everything else, and on
        request); a hard delete also drops memberships.

        A soft delete keeps the object's membership edges, as Graph does: groups delta reports
        no removal, and full rounds still list the edge (microsoft-graph-docs#7115); only the
        truth lists live members alone.
        """
        self.check_delete(kind, object_id, hard)
        obj = self._require(kind, object_id, None)
        if not soft_deletable(kind, obj.props):
            hard = True
        if hard:
            self._drop_memberships(obj.id)
            obj.lifecycle = Lifecycle.HARD_DELETED
        else:
            obj.lifecycle = Lifecycle.SOFT_DELETED
        self.live_refs.pop(obj.id, None)
        self.lifecycle_epoch += 1
        obj.changed_seq = self._next_seq()
        self._touched(obj, "deleted" if hard else "updated")

    def restore(self, kind: Kind, object_id: str) -> DirectoryObject:
        """Bring a soft-deleted object back; delta reports it like a new one.

        Its membership edges never left (see `delete`): groups delta reports nothing for them,
        the truth lists them again.
        """
        self.check_restore(kind, object_id)
        obj = self._require(kind, object_id, Lifecycle.SOFT_DELETED)
        obj.lifecycle = Lifecycle.LIVE
        self.live_refs[obj.id] = obj.ref
        self.lifecycle_epoch += 1
        obj.changed_seq = obj.born_seq = self._next_seq()
        obj.restored = True
        obj.prop_seq = None
        self._touched(obj, "updated")
        return obj

    def change_members(self, group_id: str, add: list[str], remove: list[str]) -> None:
        """Add and remove members of a live group, directory role or administrative unit; all
        ids are checked before any change."""
        self.check_members(group_id, add, remove)
        group = self.require_container(group_id)
        current = self.members[group.id]
        for member_id in (m.lower() for m in remove):
            if member_id in current:
                self._log_member(group.id, member_id, current[member_id], added=False)
        for member_id in add:
            member = self.find_any(member_id)
            assert member is not None
            if member.id not in current:
                self._log_member(group.id, member.id, member.kind, added=True)

    # -- validation (no side effects; shared with batch mutations) -------------------------

    def check_create(self, kind: Kind, props: dict[str, Any], object_id: str | None) -> str:
        _check_props(kind, props)
        new_id = parse_id(object_id) if object_id else ""
        if new_id and self.find_any(new_id) is not None:
            raise DirectoryError(409, "conflict", f"An object with id {new_id} already exists.")
        return new_id

    def check_update(self, kind: Kind, object_id: str, props: dict[str, Any]) -> None:
        _check_props(kind, props)
        check_mutable(props)
        self._require(kind, object_id, Lifecycle.LIVE)

    def check_delete(self, kind: Kind, object_id: str, hard: bool) -> None:
        obj = self._require(kind, object_id, None)
        if not hard and kind in SOFT_DELETABLE and obj.lifecycle is Lifecycle.SOFT_DELETED:
            raise DirectoryError(409, "conflict", f"{kind} {object_id} is already deleted.")

    def check_restore(self, kind: Kind, object_id: str) -> None:
        self._require(kind, object_id, Lifecycle.SOFT_DELETED)

    def check_members(self, group_id: str, add: list[str], remove: list[str]) -> None:
        group = self.require_container(group_id)
        current = self.members[group.id]
        for member_id in add:
            member = self.find_any(member_id)
            if member is None or member.lifecycle is not Lifecycle.LIVE:
                raise DirectoryError(404, "notFound", f"Member {member_id} does not exist.")
            container = (group.kind, group.props)
            check_member_type(container, member.kind, member.props, member.id == group.id)
        for member_id in remove:
            if member_id.lower() not in current:
                raise DirectoryError(404, "notFound", f"{member_id} is not a member.")

    # -- internals -----------------------------------------------------------------------

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _touched(self, obj: DirectoryObject, change_type: str) -> None:
        self.changes[obj.kind].append(obj.changed_seq, obj.id)
        self._notify(Change(obj.kind, obj.id, change_type))

    def _notify(self, change: Change) -> None:
        for listener in self.listeners:
            listener(change)

    def require_container(self, object_id: str) -> DirectoryObject:
        """The live group, directory role or administrative unit `object_id`, or a 404/409."""
        kind = self.container_kinds.get(object_id.lower(), "groups")
        return self._require(kind, object_id, Lifecycle.LIVE)

    def _log_member(self, group_id: str, member_id: str, kind: Kind, added: bool) -> None:
        seq = self._next_seq()
        if added:
            self.members[group_id][member_id] = kind
        elif not added:
            del self.members[group_id][member_id]
        self.member_log[group_id].append(MembershipEvent(seq, member_id, kind, added))
        container = self.container_kinds[group_id]
        self.changes[container].append(seq, group_id)
        self._notify(Change(container, group_id, "updated", members_of=group_id))

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


def check_member_type(
    container: tuple[Kind, dict[str, Any]],
    member_kind: Kind,
    member_props: dict[str, Any],
    itself: bool,
) -> None:
    """Refuse a member its container (kind, properties) cannot hold: directory roles take
    users, service principals and role-assignable groups only (directoryrole-post-members.md,
    groups-concept.md), units users, groups and devices, role-assignable groups no groups
    (groups-concept.md: "Group nesting isn't supported"); nothing holds itself."""
    container_kind, container_props = container
    if itself:
        raise DirectoryError(400, "badRequest", "A group cannot be its own member.")
    if member_kind == "groups" and container_props.get("isAssignableToRole") is True:
        raise DirectoryError(
            400, "badRequest", "A group cannot be a member of a role-assignable group."
        )
    if member_kind not in MEMBER_TYPES[container_kind]:
        raise DirectoryError(
            400, "badRequest", f"A {member_kind} object cannot be a member of {container_kind}."
        )
    if container_kind == "directoryRoles" and member_kind == "groups":
        if member_props.get("isAssignableToRole") is not True:
            raise DirectoryError(
                400, "badRequest", "Only groups with isAssignableToRole can hold a role."
            )


def check_mutable(props: dict[str, Any]) -> None:
    """`isAssignableToRole` is set when a group is created, never later (groups-concept.md)."""
    if "isAssignableToRole" in props:
        raise DirectoryError(400, "badRequest", "isAssignableToRole cannot be changed.")


def _check_props(kind: Kind, props: dict[str, Any]) -> None:
    unknown = sorted(set(props) - PROPERTIES[kind])
    if unknown:
        raise DirectoryError(400, "badRequest", f"Unknown {kind} properties: {unknown}.")


def parse_id(value: str) -> str:
    """A GUID in canonical lower-case form, or a DirectoryError."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise DirectoryError(400, "badRequest", f"Invalid object id: {value!r}.") from None
