"""A run's finish looks for the members its groups gained since the last one (`pending`):
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
from entrasync_shared.subjects import ObjectType

from entrasync_history.domain.model import SYNCED_MEMBER_TYPES, StoredObject

# Ids per lookup: a finish after a big first load may check every edge of the tenant.
CHUNK = 1_000
GROUPS_PER_PASS = 2_000
"""Groups checked at a time: after a big first load every group has every edge pending, and
holding them all (and the ids to look up) cost the finish over 100 MB (`make bench`)."""


class MemberLookups(Protocol):
    """What the check reads and settles (part of `ports.HistoryStore`)."""

    async def groups_with_pending_members(
        self, tenant_id: str, *, after: str | None = None, limit: int | None = None
    ) -> list[StoredObject]: ...

    async def load(
        self, tenant_id: str, object_type: ObjectType, object_ids: Iterable[str]
    ) -> list[StoredObject]: ...

    async def live_ids(
        self, tenant_id: str, object_type: ObjectType, object_ids: Iterable[str]
    ) -> frozenset[str]: ...

    async def settle_pending_members(
        self, tenant_id: str, settled: Mapping[str, frozenset[str]]
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
    store: MemberLookups, tenant_id: str, swept: Iterable[str]
) -> PendingCheck:
    checked = frozenset(t for t in SYNCED_MEMBER_TYPES if t in set(swept))
    if not checked:
        return PendingCheck([], frozenset(), checked)
    unknown: set[str] = set()
    changing: list[str] = []
    after: str | None = None
    while True:
        groups = await store.groups_with_pending_members(
            tenant_id, after=after, limit=GROUPS_PER_PASS
        )
        if not groups:
            break
        after = groups[-1].object_id
        found = await _not_live(store, tenant_id, groups, checked)
        unknown |= found
        settled: dict[str, frozenset[str]] = {}
        for group in groups:
            done = frozenset(m for m in group.pending_members if group.member_type(m) in checked)
            if done & found:
                changing.append(group.object_id)
            elif done:
                settled[group.object_id] = done
        await store.settle_pending_members(tenant_id, settled)
    # The lookup may be light (pending ids and types only): the groups to change, whole.
    whole = await store.load(tenant_id, "group", changing)
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
