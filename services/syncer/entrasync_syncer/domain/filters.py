"""The tenant's filters as pure decisions: guests, disabled accounts, and a group scope.

A full round simply leaves filtered objects out (history then treats them as gone); a delta
round reports an update that fails a filter as a removal, so an object that *became* a guest,
disabled or out of scope leaves the inventory too. An update that lacks a filtered property
(a sparse update) cannot be judged and passes. Member lists (of groups, roles and units) are
never filtered.

Which filter reaches which type (docs/object-types.md): guests are users; disabled accounts are
users, devices and service principals (each has `accountEnabled`, the switch that stops its
sign-ins); the group scope limits users, groups and devices only. Applications, roles,
administrative units and contacts are the tenant's configuration of who may do what, kept whole:
roles, units and applications cannot be group members at all, and a security team needs every
service principal and contact a scoped group or role can reach.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

from entrasync_shared.messages import ObservedObject, Removal, SyncMode, TenantFilters
from entrasync_shared.subjects import ObjectType

from entrasync_syncer.domain.ids import IdSet, compact_id

SCOPED_TYPES: Final[frozenset[ObjectType]] = frozenset({"user", "group", "device"})
"""The types `member_of_groups` limits (the others are synced whole)."""

ACCOUNT_TYPES: Final[frozenset[ObjectType]] = frozenset({"user", "device", "servicePrincipal"})
"""The types `exclude_disabled` applies to: those with `accountEnabled`."""


@dataclass(frozen=True)
class Scope:
    """What the filters let through; `members` are the direct members of the scope groups."""

    filters: TenantFilters = TenantFilters()
    members: frozenset[int | str] = frozenset()

    @property
    def active(self) -> bool:
        f = self.filters
        return f.exclude_guests or f.exclude_disabled or bool(f.member_of_groups)

    def admits(self, object_type: ObjectType, obj: ObservedObject) -> bool:
        f, attributes = self.filters, obj.attributes
        if object_type == "user" and f.exclude_guests:
            if str(attributes.get("userType") or "").lower() == "guest":
                return False
        if object_type in ACCOUNT_TYPES and f.exclude_disabled:
            if attributes.get("accountEnabled") is False:
                return False
        if f.member_of_groups and object_type in SCOPED_TYPES:
            key = compact_id(obj.id.lower())
            if object_type == "group" and obj.id.lower() in f.member_of_groups:
                return True
            return key in self.members
        return True

    def digest_of(self, object_type: ObjectType) -> str:
        """The digest a delta link of `object_type` is stored and checked under: `digest` for
        the types the scope limits; for the others only what filters them, so a change of the
        scope's membership does not force needless full rounds of types it never reaches."""
        if object_type in SCOPED_TYPES:
            return self.digest
        if object_type in ACCOUNT_TYPES and self.filters.exclude_disabled:
            return "exclude_disabled"
        return ""

    @cached_property
    def digest(self) -> str:
        """Changes whenever the filters or the scope's membership change: a delta link read
        under another digest would miss objects that entered the scope, so it is not reused."""
        if not self.active:
            return ""
        f = self.filters
        groups = sorted(g.lower() for g in f.member_of_groups)
        settings = [f.exclude_guests, f.exclude_disabled, groups]
        h = hashlib.sha256(json.dumps(settings).encode())
        for member in sorted(str(m) for m in self.members):
            h.update(member.encode())
        return h.hexdigest()[:32]


@dataclass
class FilterTally:
    """Ids a run filtered out of one type (ids only, like `PageReader`)."""

    ids: IdSet = field(default_factory=IdSet)

    def apply(
        self,
        scope: Scope,
        object_type: ObjectType,
        mode: SyncMode,
        objects: list[ObservedObject],
        removals: list[Removal],
    ) -> list[ObservedObject]:
        """The objects to publish; the others are counted and, in a delta round, removed."""
        if not scope.active:
            return objects
        kept: list[ObservedObject] = []
        for obj in objects:
            if scope.admits(object_type, obj):
                kept.append(obj)
                continue
            self.ids.add(obj.id)
            if mode == "delta":
                removals.append(Removal(id=obj.id, reason="changed"))
        return kept

    def reset(self) -> None:
        self.ids.clear()

    @property
    def count(self) -> int:
        return len(self.ids)


def member_ids(entries: list[object]) -> list[str]:
    """Ids out of a page of `/groups/{id}/members`."""
    found = []
    for entry in entries:
        member = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(member, str) and member:
            found.append(member)
    return found
