"""A run's finish looks for the members its containers (groups, directory roles, administrative
units) gained since the last one (`pending`):
those of the types it swept or read with a delta round (`plans.member_checked_types`) whose
object the inventory does not hold live are hidden (see `model`). Graph lists a soft-deleted
member's edge in a full round without ever listing the member (microsoft-graph-docs#7115), so
the inventory may not know it at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, cast

from entrasync_shared.members import MemberType
from entrasync_shared.messages import SyncFinished
from entrasync_shared.subjects import OBJECT_TYPES, ObjectType

from entrasync_history.domain.model import SYNCED_MEMBER_TYPES, StoredObject
from entrasync_history.domain.plans import Key, key

# Ids per lookup: a finish after a big first load may check every edge of the tenant.
CHUNK = 1_000
GROUPS_PER_PASS = 2_000
"""Groups checked at a time: after a big first load every group has every edge pending, and
holding them all (and the ids to look up) cost the finish over 100 MB (`make bench`)."""


class MemberLookups(Protocol):
    """What the check reads and settles (part of `ports.HistoryStore`)."""

    async def containers_with_pending_members(
        self, tenant_id: str, *, after: Key | None = None, limit: int | None = None
    ) -> list[StoredObject]: ...

    async def load(
        self, tenant_id: str, object_type: ObjectType, object_ids: Iterable[str]
    ) -> list[StoredObject]: ...

    async def live_ids(
        self, tenant_id: str, object_type: ObjectType, object_ids: Iterable[str]
    ) -> frozenset[str]: ...

    async def settle_pending_members(
        self, tenant_id: str, settled: Mapping[Key, frozenset[str]]
    ) -> None: ...


@dataclass(frozen=True)
class PendingCheck:
    """The groups with a pending member that is not live (`groups`: the finish's plan hides
    those members and publishes the change), which members are not live, and the member types
    checked. The other groups' checked pending members, found live, are settled as the check
    goes (bookkeeping only, in bulk and outside the finish's transaction: after a big first load
    that is every group, too many for one transaction; a finish retried finds them settled)."""

    groups: list[StoredObject]
    unknown: frozenset[str]
    checked: frozenset[MemberType]


async def check_pending_members(
    store: MemberLookups, tenant_id: str, swept: Iterable[str], unread: Iterable[str] = ()
) -> PendingCheck:
    """Check the pending members of the `swept` types; settle those of the `unread` types
    unchecked (see `unread_member_types`: left pending, a tenant that never reads service
    principals would re-read every container holding one at every finish)."""
    checked = frozenset(t for t in SYNCED_MEMBER_TYPES if t in set(swept))
    unchecked = frozenset(t for t in SYNCED_MEMBER_TYPES if t in set(unread)) - checked
    if not checked and not unchecked:
        return PendingCheck([], frozenset(), checked)
    unknown: set[str] = set()
    changing: dict[ObjectType, list[str]] = {}
    after: Key | None = None
    while True:
        groups = await store.containers_with_pending_members(
            tenant_id, after=after, limit=GROUPS_PER_PASS
        )
        if not groups:
            break
        after = key(groups[-1])
        found = await _not_live(store, tenant_id, groups, checked)
        unknown |= found
        settled: dict[Key, frozenset[str]] = {}
        for group in groups:
            done = frozenset(m for m in group.pending_members if group.member_type(m) in checked)
            left = frozenset(m for m in group.pending_members if group.member_type(m) in unchecked)
            if done & found:
                changing.setdefault(group.object_type, []).append(group.object_id)
                done = frozenset()  # the finish's plan settles them with the change
            if done | left:
                settled[key(group)] = done | left
        await store.settle_pending_members(tenant_id, settled)
    # The lookup may be light (pending ids and types only): the containers to change, whole.
    whole = [
        container
        for object_type, ids in sorted(changing.items())
        for container in await store.load(tenant_id, object_type, ids)
    ]
    return PendingCheck(whole, frozenset(unknown), checked)


async def _not_live(
    store: MemberLookups,
    tenant_id: str,
    groups: list[StoredObject],
    checked: frozenset[MemberType],
) -> frozenset[str]:
    """The checked pending members of `groups` the inventory does not hold live."""
    wanted: dict[ObjectType, set[str]] = {}
    for group in groups:
        for member in group.pending_members:
            kind = group.member_type(member)
            if kind in checked:
                wanted.setdefault(cast(ObjectType, kind), set()).add(member)
    unknown: set[str] = set()
    for object_type, ids in wanted.items():
        ordered = sorted(ids)
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
            unknown |= set(chunk) - await store.live_ids(tenant_id, object_type, chunk)
    return frozenset(unknown)


def unread_member_types(finished: SyncFinished) -> list[ObjectType]:
    """The types a full run did not read at all: the tenant does not sync them (a scheduled full
    run reads every type the tenant syncs), so their pending members cannot be checked and stay
    visible, as they did before the tenant could sync them. A delta run may read fewer types
    than the tenant syncs: it settles nothing unchecked."""
    if finished.mode != "full":
        return []
    read = {result.object_type for result in finished.results}
    return [t for t in OBJECT_TYPES if t not in read]
