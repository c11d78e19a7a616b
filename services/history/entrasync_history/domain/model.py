"""The inventory's objects and the pure rules that change them.

An object's state changes only through `observe` (Graph returned it), `remove` (an `@removed`
entry or a full run that no longer sees it), `leave_containers` (a member was hard-deleted) and
`hide_members`/`reveal_members` (a member was soft-deleted/restored). `diff` compares a stored
object with its new state and says which public changes that makes.

Graph leaves null and never-set properties out (user-delta.md): a full round's object carries
all its selected non-null properties, so it *replaces* the stored attributes (missing = null);
a delta round's object may be sparse ("at least the properties that have been updated",
delta-query-overview.md), so it *merges*, and there an explicit null clears. Null is never
stored: a cleared attribute is an absent one. An object that comes back from a deletion comes
back whole, attributes and members alike.

Containers (`CONTAINER_TYPES`: groups, directory roles, administrative units: the types whose
delta rounds carry `members@delta`) hold membership lists; the rules below say "group" for any
of them. Membership lists hold live members only, each with its type (user, group, device,
servicePrincipal, orgContact; `unknown` for members stored before types were kept): a group
keeps the types that differ from its `member_default` in `member_types`, so a group of users
carries no per-member cost. An object's type never changes, so types are not hashed. Graph
keeps a soft-deleted member's edges (and a full round may list them, microsoft-graph-docs#7115),
so the inventory keeps them aside in `hidden_members` and brings them back when the member is
restored.
A member Graph lists whose object the inventory does not hold live may be such a soft-deleted
member the inventory never saw (a full round lists its edge and no `@removed` for it), or one
created after its type's round read past it: each new edge is `pending` until a run's finish,
which hides the pending members still not live of the types it swept or read with a delta round
(`hide_unknown_members`; a restored group's edges arrive in a delta round, say); recording the
object later brings its edges back, as a restore does.
Members of a type the tenant does not sync stay visible: a full run that does not read their
type settles them unchecked (`unknown_members.unread_member_types`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from entrasync_shared.members import MEMBER_CODES, MemberType
from entrasync_shared.messages import ObservedObject, SyncMode
from entrasync_shared.subjects import CONTAINER_TYPES, ChangeKind, ObjectType

from entrasync_history.domain.positions import Position

Deletion = Literal["soft", "hard", "unseen"]
"""How an object went: `@removed` said soft (restorable) or hard (purged); `unseen` is a full
scan's sweep, which cannot tell a soft delete from a purge (or an object now filtered out)."""


# Deletions Graph may still list as a group's member (its edges outlive a soft delete), and
# whose edges come back on a restore: an unseen object may have been soft-deleted.
RESTORABLE: frozenset[Deletion] = frozenset({"soft", "unseen"})

# Member types entrasync syncs: a full run's finish can tell whether one of these is live.
SYNCED_MEMBER_TYPES: frozenset[MemberType] = frozenset(
    {"user", "group", "device", "servicePrincipal", "orgContact"}
)


@dataclass(frozen=True)
class StoredObject:
    """One object of a tenant as the inventory holds it (a tombstone when `deletion` is set).

    `last_seen_at` is when the syncer produced the last batch that saw it: a later run's
    sighting protects an object from an earlier full run's deletion sweep.
    `confirmed_run`/`confirmed_members` collect the members a full run re-confirmed, so the run's
    finish can drop the ones it did not; `hidden_members` are the edges of soft-deleted members
    (not public, not hashed); `pending_members` the edges added since the last full run's
    finish, whose members it has yet to find live (synced types only); `changed_run`/
    `deleted_run` make each object count once per run in the history row however many batches
    touch it.
    `position` is that of the newest batch (or finish) that observed or removed it: an older
    batch is stale for it. `revision` counts the public changes committed for it; event ids
    derive from it, so a change planned twice from the same stored state keeps its id.
    """

    tenant_id: str
    object_type: ObjectType
    object_id: str
    first_seen: datetime
    last_seen_run: str
    last_seen_at: datetime
    last_seen_attempt: int = 1
    attributes: Mapping[str, Any] = field(default_factory=dict)
    members: frozenset[str] = frozenset()
    hidden_members: frozenset[str] = frozenset()
    pending_members: frozenset[str] = frozenset()
    member_types: Mapping[str, MemberType] = field(default_factory=dict)
    member_default: MemberType = "user"
    deleted_at: datetime | None = None
    deletion: Deletion | None = None
    confirmed_run: str | None = None
    confirmed_members: frozenset[str] = frozenset()
    changed_run: str | None = None
    deleted_run: str | None = None
    position: Position | None = None
    revision: int = 0

    @property
    def live(self) -> bool:
        return self.deletion is None

    @property
    def never_public(self) -> bool:
        """A tombstone of an object soft-deleted before any run saw it live (no event yet)."""
        return (
            self.deletion == "soft"
            and self.revision == 0
            and self.deleted_run is None
            and not self.attributes
        )

    @property
    def content_hash(self) -> str:
        return content_hash(self.attributes, self.members)

    def member_type(self, member_id: str) -> MemberType:
        return self.member_types.get(member_id, self.member_default)

    def typed_members(self) -> dict[str, MemberType]:
        """The live members, id → type (as the simulator's truth gives `memberTypes`)."""
        return {m: self.member_type(m) for m in sorted(self.members)}


def content_hash(attributes: Mapping[str, Any], members: Iterable[str]) -> str:
    canonical = json.dumps(
        {"attributes": attributes, "members": sorted(members)},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def confirmation_key(run_id: str, attempt: int) -> str:
    """Which attempt of a run confirmed a group's members (attempt 1 keeps the plain run id)."""
    return run_id if attempt == 1 else f"{run_id}#a{attempt}"


def observe(
    current: StoredObject | None,
    seen: ObservedObject,
    *,
    tenant_id: str,
    object_type: ObjectType,
    run_id: str,
    mode: SyncMode,
    seen_at: datetime,
    now: datetime,
    attempt: int = 1,
    soft_deleted: frozenset[str] = frozenset(),
) -> StoredObject:
    """The object after Graph returned it: a full round's attributes replace the stored ones, a
    delta round's merge; member changes apply (`soft_deleted` members' edges go aside).

    An object that comes back after a deletion is live again (restored), and whole: what this
    observation says replaces its attributes and members.
    """
    restored = current is not None and not current.live
    seen_at = seen_at if seen_at.tzinfo else seen_at.replace(tzinfo=UTC)
    base = current or StoredObject(
        tenant_id=tenant_id,
        object_type=object_type,
        object_id=seen.id,
        first_seen=now,
        last_seen_run=run_id,
        last_seen_at=seen_at,
        last_seen_attempt=attempt,
    )
    merged = seen.attributes
    if mode != "full" and not restored:
        merged = {**base.attributes, **seen.attributes}
    updated = replace(
        base,
        attributes={name: value for name, value in merged.items() if value is not None},
        last_seen_run=run_id,
        last_seen_attempt=attempt,
        last_seen_at=max(base.last_seen_at, seen_at),
        deleted_at=None,
        deletion=None,
    )
    if object_type not in CONTAINER_TYPES:
        return updated
    added, removed = frozenset(seen.members_added), frozenset(seen.members_removed)
    members, hidden = (
        (frozenset(), frozenset()) if restored else (base.members, base.hidden_members)
    )
    # A hidden edge Graph lists again stays hidden: its member is still not live (recording it
    # would have brought the edge back), so an unchanged full round changes nothing.
    aside = added & (soft_deleted | hidden)
    new_edges = added - members - hidden - aside
    members, hidden = (
        (members | (added - aside)) - removed - aside,
        (hidden | aside) - removed - (added - aside),
    )
    types = _pruned(
        _typed(updated, seen, known=(base.members | base.hidden_members) - removed), members, hidden
    )
    pending = base.pending_members | {
        m for m in new_edges if types.get(m, base.member_default) in SYNCED_MEMBER_TYPES
    }
    default = base.member_default
    if default == "unknown" and len(types) == len(members) + len(hidden):
        # Every member of a group stored untyped is typed now: back to the compact form.
        default, types = "user", {m: kind for m, kind in types.items() if kind != "user"}
    updated = replace(
        updated,
        members=members,
        hidden_members=hidden,
        pending_members=frozenset(pending) & members,
        member_types=types,
        member_default=default,
    )
    if mode == "full":
        # A retried run re-confirms from scratch: only the finishing attempt's members count.
        key = confirmation_key(run_id, attempt)
        confirmed = base.confirmed_members if base.confirmed_run == key else frozenset()
        updated = replace(updated, confirmed_run=key, confirmed_members=(confirmed | added))
    return updated


def _typed(
    group: StoredObject, seen: ObservedObject, known: frozenset[str]
) -> dict[str, MemberType]:
    """The group's member types with those of the observation's added members.

    A batch from an older syncer has no types: its members are `unknown`, unless the group
    already knew them.
    """
    types = dict(group.member_types)
    codes = seen.members_added_types
    if len(codes) != len(seen.members_added):
        codes = "?" * len(seen.members_added)
    default = group.member_default
    for member, code in zip(seen.members_added, codes, strict=True):
        kind = MEMBER_CODES.get(code, "unknown")
        if kind == "unknown" and member in known:
            continue
        if kind == default:
            types.pop(member, None)
        else:
            types[member] = kind
    return types


def _pruned(
    types: Mapping[str, MemberType], members: frozenset[str], hidden: frozenset[str]
) -> dict[str, MemberType]:
    """Types of the group's members (live or hidden) only."""
    return {m: kind for m, kind in types.items() if m in members or m in hidden}


def remove(current: StoredObject, kind: Deletion, now: datetime) -> StoredObject:
    """The object after a deletion; a hard deletion is final, a soft or unseen one may change
    when Graph later says which it was."""
    if current.deletion == "hard" or current.deletion == kind:
        return current
    return replace(current, deleted_at=current.deleted_at or now, deletion=kind)


def leave_containers(group: StoredObject, gone: frozenset[str]) -> StoredObject:
    """The group (or other container) after hard-deleted objects left it."""
    if not (group.members | group.hidden_members) & gone:
        return group
    return replace(
        group,
        members=group.members - gone,
        hidden_members=group.hidden_members - gone,
        pending_members=group.pending_members - gone,
        confirmed_members=group.confirmed_members - gone,
        member_types={m: t for m, t in group.member_types.items() if m not in gone},
    )


def hide_members(group: StoredObject, soft_deleted: frozenset[str]) -> StoredObject:
    """The group after members were soft-deleted: their edges stay, out of the public list."""
    moving = group.members & soft_deleted
    if not moving:
        return group
    return replace(
        group, members=group.members - moving, hidden_members=group.hidden_members | moving
    )


def reveal_members(group: StoredObject, restored: frozenset[str]) -> StoredObject:
    """The group after soft-deleted members were restored: their edges are public again."""
    moving = group.hidden_members & restored
    if not moving:
        return group
    return replace(
        group, members=group.members | moving, hidden_members=group.hidden_members - moving
    )


def hide_unknown_members(
    group: StoredObject, unknown: frozenset[str], checked: frozenset[MemberType]
) -> StoredObject:
    """The group after a full run's finish looked for its pending members of the `checked`
    types: those not live in the inventory (`unknown`) are hidden, as a soft-deleted member's
    edges are; the others are no longer pending."""
    done = frozenset(m for m in group.pending_members if group.member_type(m) in checked)
    if not done:
        return group
    hiding = hide_members(group, done & unknown)
    return replace(hiding, pending_members=group.pending_members - done)


def drop_unconfirmed_members(group: StoredObject, run_id: str, attempt: int = 1) -> StoredObject:
    """The group after a full run: only the members that run confirmed remain.

    A group a later run has seen since is left alone: its members are newer than this run's.
    """
    confirmed_by_this_attempt = group.confirmed_run == confirmation_key(run_id, attempt)
    if not confirmed_by_this_attempt or group.last_seen_run != run_id or not group.live:
        return group
    return replace(
        group,
        members=group.members & group.confirmed_members,
        hidden_members=group.hidden_members & group.confirmed_members,
    )


@dataclass(frozen=True)
class Change:
    """One public change of one object (the data of one CloudEvent)."""

    kind: ChangeKind
    object_type: ObjectType
    object_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    restored: bool = False
    soft: bool | None = False  # None: deleted, but not known whether soft or hard (a sweep)
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # The members' types, parallel to `added`/`removed`; left out of comparisons, since a
    # member's type follows from its id (an object's type never changes).
    added_types: tuple[MemberType, ...] = field(default=(), compare=False)
    removed_types: tuple[MemberType, ...] = field(default=(), compare=False)


def changed_attributes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes whose value differs, with their new value (None when one disappeared).

    An absent attribute and a null one are the same (Graph omits nulls).
    """
    return {
        name: after.get(name)
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    }


def diff(before: StoredObject | None, after: StoredObject) -> list[Change]:
    """The public changes between a stored object and its new state, creation first."""
    kind, oid = after.object_type, after.object_id
    changes: list[Change] = []
    if before is not None and before.never_public:
        before = None  # restored before entrasync ever saw it live: new to consumers
    if not after.live:
        if before is not None and before.deletion != after.deletion:
            soft = None if after.deletion == "unseen" else after.deletion == "soft"
            changes.append(Change("deleted", kind, oid, soft=soft))
        return changes
    was_live = before is not None and before.live
    if before is None:
        changes.append(Change("created", kind, oid, attributes=dict(after.attributes)))
    else:
        changed = changed_attributes(before.attributes, after.attributes)
        if changed or not was_live:
            changes.append(Change("updated", kind, oid, attributes=changed, restored=not was_live))
    old_members = before.members if before is not None else frozenset()
    added = tuple(sorted(after.members - old_members))
    removed = tuple(sorted(old_members - after.members))
    if added or removed:
        before_types = before if before is not None else after
        changes.append(
            Change(
                "members_changed",
                kind,
                oid,
                added=added,
                removed=removed,
                added_types=tuple(map(after.member_type, added)),
                removed_types=tuple(map(before_types.member_type, removed)),
            )
        )
    return changes


@dataclass(frozen=True)
class Counted:
    """The new state of an object plus whether it newly counts as changed/deleted in a run."""

    state: StoredObject
    changed: bool
    deleted: bool


def mark_counted(state: StoredObject, changes: Iterable[Change], run_id: str) -> Counted:
    """Flag the object as changed/deleted in `run_id`, counting it at most once per run."""
    kinds = {change.kind for change in changes}
    is_change = bool(kinds & {"created", "updated", "members_changed"})
    is_delete = "deleted" in kinds
    newly_changed = is_change and state.changed_run != run_id
    newly_deleted = is_delete and state.deleted_run != run_id
    if is_change:
        state = replace(state, changed_run=run_id)
    if is_delete:
        state = replace(state, deleted_run=run_id)
    return Counted(state, newly_changed, newly_deleted)
