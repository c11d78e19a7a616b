"""Delta pages into observations: merge member slices, drop repeats, cut into batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

import orjson
from entrasync_shared.members import ODATA_CODES, member_code
from entrasync_shared.messages import ObservedObject, Removal

from entrasync_syncer.domain.ids import IdSet

MEMBERS_DELTA: Final = "members@delta"


class _Pending:
    """An object of the page being read; its member lists exist only once it has some.

    They map each member id to its one-letter type code (`entrasync_shared.members`).
    """

    __slots__ = ("attributes", "added", "removed", "repeat")

    def __init__(self, attributes: dict[str, Any], repeat: bool) -> None:
        self.attributes = attributes
        self.added: dict[str, str] | None = None
        self.removed: dict[str, str] | None = None
        self.repeat = repeat

    def apply_members(self, changes: Any) -> None:
        if not isinstance(changes, list) or not changes:
            return
        added = self.added if self.added is not None else {}
        removed = self.removed if self.removed is not None else {}
        self.added, self.removed = added, removed
        ids = changes if type(changes) is AddedIds else _added_ids(changes)
        if ids is not None:
            if removed:
                for added_id in ids:
                    removed.pop(added_id, None)
            added.update(zip(ids, ids.codes, strict=True))
            return
        for change in changes:
            member = change.get("id") if isinstance(change, dict) else None
            if not isinstance(member, str):
                continue
            code = member_code(change.get("@odata.type"))
            if "@removed" in change:
                added.pop(member, None)
                removed[member] = code
            else:
                removed.pop(member, None)
                added[member] = code

    def observed(self, object_id: str) -> ObservedObject | None:
        """The observation to publish; None for a repeat that brings no member change."""
        if not (self.added or self.removed):
            if self.repeat:
                return None
            return ObservedObject(id=object_id, attributes=self.attributes)
        return ObservedObject(
            id=object_id,
            attributes=self.attributes,
            members_added=tuple(self.added or ()),
            members_removed=tuple(self.removed or ()),
            members_added_types="".join((self.added or {}).values()),
            members_removed_types="".join((self.removed or {}).values()),
        )


class AddedIds(list[str]):
    """A `members@delta` slice of additions only, as bare member ids (see `compact_members`)
    plus their one-letter type codes, one per id, in `codes`."""

    __slots__ = ("codes",)

    def __init__(self, ids: list[str], codes: str) -> None:
        super().__init__(ids)
        self.codes = codes


def compact_members(entries: list[Any]) -> None:
    """Replace each additions-only `members@delta` slice by its bare ids, in place.

    Run as soon as a page is parsed: every slice of a full round is additions only, and a big
    group's page carries ~12k member references. As ids they take about a quarter of the
    memory of the parsed reference objects, so a page waiting its turn stays small (each
    member's type stays, as one character).
    """
    for entry in entries:
        changes = entry.get(MEMBERS_DELTA) if type(entry) is dict else None
        if type(changes) is list and changes:
            entry[MEMBERS_DELTA] = _added_ids(changes) or changes


def _added_ids(changes: list[Any]) -> AddedIds | None:
    """The slice's member ids when it holds additions only; None for anything else (removals,
    garbled references: the slow path takes those one by one)."""
    try:
        found = [change["id"] for change in changes if "@removed" not in change]
    except (TypeError, KeyError, IndexError):
        return None
    if len(found) != len(changes) or not set(map(type, found)) <= {str}:
        return None
    code_of = ODATA_CODES
    try:
        codes = "".join([code_of[change["@odata.type"]] for change in changes])
    except (KeyError, TypeError):  # a missing or unknown `@odata.type`: the slow path reads it
        return None
    return AddedIds(found, codes)


@dataclass
class PageReader:
    """Turns the pages of one run and type into observations, one page at a time.

    Within a run an object is published once. The exception is a group, directory role or
    administrative unit that comes back on a later page with further `members@delta` slices:
    it is published again, carrying those slices, so no membership change is lost (consumers
    merge member lists across batches). Only ids are remembered across pages, never objects.
    """

    seen: IdSet = field(default_factory=IdSet)
    removed: IdSet = field(default_factory=IdSet)
    skipped: int = 0

    @property
    def total(self) -> int:
        return len(self.seen)

    def reset(self) -> None:
        """Forget everything: a fresh full round follows."""
        self.seen.clear()
        self.removed.clear()

    def read(self, entries: list[Any]) -> tuple[list[ObservedObject], list[Removal]]:
        """The page's observations and removals. Takes the entries' dicts over as attributes:
        the caller must not use `entries` afterwards."""
        pending: dict[str, _Pending] = {}
        removals: list[Removal] = []
        remember = self.seen.add
        for entry in entries:
            object_id = entry.get("id") if type(entry) is dict else None
            if type(object_id) is not str or not object_id:
                self.skipped += 1
                continue
            if "@removed" in entry:
                if self.removed.add(object_id):
                    removals.append(Removal(id=object_id, reason=removal_reason(entry)))
                continue
            members = entry.get(MEMBERS_DELTA)
            item = pending.get(object_id)
            if item is None:
                # Seen from now on: a repeat is only published again with member changes.
                pending[object_id] = item = _Pending(
                    _take_attributes(entry), not remember(object_id)
                )
            else:
                item.attributes.update(_take_attributes(entry))
            if members:
                item.apply_members(members)
        objects = [item.observed(object_id) for object_id, item in pending.items()]
        return [obj for obj in objects if obj is not None], removals


def split_batch(
    objects: list[ObservedObject],
    removals: list[Removal],
    max_bytes: int,
    max_members: int = 5000,
) -> list[tuple[list[ObservedObject], list[Removal]]]:
    """A page's observations cut into batches that stay below `max_bytes` of JSON (NATS caps
    a message at 1 MB by default, and a page of big groups' member slices can weigh several).

    A group (role, unit) with more than `max_members` member changes is cut into several
    observations of the same object, each with a share of them (consumers merge member lists
    across batches).
    """
    pieces = [piece for obj in objects for piece in _pieces(obj, max_members)]
    if _page_weight(pieces, removals) <= max_bytes:
        return [(pieces, removals)] if pieces or removals else []
    batches: list[tuple[list[ObservedObject], list[Removal]]] = []
    current: list[ObservedObject] = []
    current_removals: list[Removal] = []
    size = 0
    for piece in pieces:
        weight = _weight(piece)
        if current and size + weight > max_bytes:
            batches.append((current, []))
            current, size = [], 0
        current.append(piece)
        size += weight
    for removal in removals:
        weight = _removal_weight(removal)
        if (current or current_removals) and size + weight > max_bytes:
            batches.append((current, current_removals))
            current, current_removals, size = [], [], 0
        current_removals.append(removal)
        size += weight
    if current or current_removals:
        batches.append((current, current_removals))
    return batches


def page_weight(objects: list[ObservedObject], max_members: int = 5000) -> int | None:
    """What `split_batch` weighs a page of observations (no removals) at, or None when one of
    them has more than `max_members` member changes (only `split_batch` cuts those)."""
    if any(len(o.members_added) + len(o.members_removed) > max_members for o in objects):
        return None
    return _page_weight(objects, [])


def _pieces(obj: ObservedObject, max_members: int) -> list[ObservedObject]:
    if len(obj.members_added) + len(obj.members_removed) <= max_members:
        return [obj]
    changes = [
        (m, code, True) for m, code in zip(obj.members_added, _codes(obj, True), strict=True)
    ] + [(m, code, False) for m, code in zip(obj.members_removed, _codes(obj, False), strict=True)]
    return [
        ObservedObject(
            id=obj.id,
            attributes=obj.attributes,
            members_added=tuple(m for m, _, added in chunk if added),
            members_removed=tuple(m for m, _, added in chunk if not added),
            members_added_types="".join(code for _, code, added in chunk if added),
            members_removed_types="".join(code for _, code, added in chunk if not added),
        )
        for chunk in (
            changes[start : start + max_members] for start in range(0, len(changes), max_members)
        )
    ]


def _codes(obj: ObservedObject, added: bool) -> str:
    """The object's type codes of its added (or removed) members; "?" each when it has none."""
    members = obj.members_added if added else obj.members_removed
    codes = obj.members_added_types if added else obj.members_removed_types
    return codes if len(codes) == len(members) else "?" * len(members)


def _weight(obj: ObservedObject) -> int:
    """A generous estimate of the object's JSON size, cheap enough for every object: the
    attributes' exact JSON (orjson writes the same bytes pydantic does) plus a quarter."""
    members = obj.members_added + obj.members_removed
    return (
        160  # the keys of an ObservedObject
        + 2 * len(obj.id)
        + len(orjson.dumps(obj.attributes)) * 5 // 4
        + sum(map(len, members))
        + 5 * len(members)  # quotes, comma and the type code
    )


def _page_weight(objects: list[ObservedObject], removals: list[Removal]) -> int:
    """At least the sum of `_weight` over `objects` plus the removals' weights, in a few C-level
    passes: a page that fits one batch (the usual case) is not weighed object by object."""
    members = sum(len(o.members_added) + len(o.members_removed) for o in objects)
    member_chars = sum(
        sum(map(len, o.members_added + o.members_removed))
        for o in objects
        if o.members_added or o.members_removed
    )
    return (
        160 * len(objects)
        + 2 * sum(len(o.id) for o in objects)
        + len(orjson.dumps([o.attributes for o in objects])) * 5 // 4
        + member_chars
        + 5 * members
        + sum(map(_removal_weight, removals))
    )


def _removal_weight(removal: Removal) -> int:
    return len(removal.id) + 48


def attributes_of(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's properties without `id`, OData annotations and `members@delta`."""
    return {k: v for k, v in entry.items() if k != "id" and "@" not in k}


def _take_attributes(entry: dict[str, Any]) -> dict[str, Any]:
    """`attributes_of`, reusing the entry's own dict when it carries no annotation (most do
    not: one C-level scan of the joined keys instead of a comprehension per entry)."""
    if "@" in "".join(entry):
        return attributes_of(entry)
    del entry["id"]
    return entry


def removal_reason(entry: dict[str, Any]) -> Literal["changed", "deleted"]:
    removed = entry.get("@removed")
    reason = removed.get("reason") if isinstance(removed, dict) else None
    # Anything but an explicit permanent deletion is reported as the restorable kind.
    return "deleted" if reason == "deleted" else "changed"
