"""Delta query paging: which entries a page of a round holds, and where the next page starts."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from typing import Any

from entrasync_sim.directory import DirectoryObject, Lifecycle, TenantDirectory
from entrasync_sim.schema import MEMBERS_PROPERTY, ODATA_TYPES, PROPERTIES, Kind, selectable
from entrasync_sim.tokens import RoundState


class SelectError(Exception):
    """`$select` names a property the resource does not have."""


@dataclass(frozen=True)
class PagingLimits:
    """How much one page may hold and how much work one request may do."""

    page_size: int
    member_slice: int
    scan_budget: int


def parse_select(kind: Kind, raw: str | None) -> tuple[str, ...] | None:
    """Canonical, sorted `$select` list (case-insensitive names), or None when absent."""
    if raw is None:
        return None
    known = {name.lower(): name for name in selectable(kind) | {"id"}}
    chosen = set()
    for part in raw.split(","):
        name = part.strip()
        if not name:
            continue
        if name.lower() not in known:
            type_name = ODATA_TYPES[kind].removeprefix("#")
            raise SelectError(f"Could not find a property named '{name}' on type '{type_name}'.")
        chosen.add(known[name.lower()])
    return tuple(sorted(chosen))


def build_page(
    directory: TenantDirectory, state: RoundState, limits: PagingLimits
) -> tuple[list[dict[str, Any]], RoundState | None]:
    """Entries of the page starting at `state`, and the state of the next page (None: done)."""
    ids = directory.sorted_ids[state.kind]
    table = directory.objects[state.kind]
    resuming = state.slice_index > 0
    position = (bisect.bisect_left if resuming else bisect.bisect_right)(ids, state.cursor)
    page: list[dict[str, Any]] = []
    scanned = 0
    previous = state.cursor
    for object_id in ids[position:]:
        entries = _entries(directory, table[object_id], state, limits.member_slice)
        first = state.slice_index if resuming and object_id == state.cursor else 0
        for index in range(first, len(entries)):
            if len(page) >= limits.page_size:
                if index == 0:
                    return page, replace(state, cursor=previous, slice_index=0)
                return page, replace(state, cursor=object_id, slice_index=index)
            page.append(entries[index])
        previous = object_id
        scanned += 1
        if scanned >= limits.scan_budget and len(page) < limits.page_size:
            return page, replace(state, cursor=object_id, slice_index=0)
    return page, None


def _entries(
    directory: TenantDirectory, obj: DirectoryObject, state: RoundState, member_slice: int
) -> list[dict[str, Any]]:
    track_members = obj.kind == "groups" and (
        state.select is None or MEMBERS_PROPERTY in state.select
    )
    if state.since is None:
        if obj.lifecycle is not Lifecycle.LIVE:
            return []
        before: dict[str, Kind] = {}
    else:
        changed = state.since < obj.changed_seq <= state.upto
        if track_members:
            changed = changed or directory.members_changed(obj.id, state.since, state.upto)
        if not changed:
            return []
        if obj.lifecycle is Lifecycle.HARD_DELETED:
            return [{"id": obj.id, "@removed": {"reason": "deleted"}}]
        if obj.lifecycle is Lifecycle.SOFT_DELETED:
            return [{"id": obj.id, "@removed": {"reason": "changed"}}]
        is_new = obj.born_seq > state.since
        before = {} if is_new or not track_members else directory.members_at(obj.id, state.since)
    body = _project(obj, state.select)
    if not track_members:
        return [body]
    after = directory.members_at(obj.id, state.upto)
    changes = _member_changes(before, after)
    if not changes:
        return [body]
    return [
        {**body, "members@delta": changes[i : i + member_slice]}
        for i in range(0, len(changes), member_slice)
    ]


def _project(obj: DirectoryObject, select: tuple[str, ...] | None) -> dict[str, Any]:
    names = sorted(PROPERTIES[obj.kind]) if select is None else select
    body: dict[str, Any] = {"id": obj.id}
    for name in names:
        if name not in ("id", MEMBERS_PROPERTY):
            body[name] = obj.props.get(name)
    return body


def _member_changes(before: dict[str, Kind], after: dict[str, Kind]) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for member_id in sorted(before.keys() | after.keys()):
        if member_id in after and member_id not in before:
            changes.append({"@odata.type": ODATA_TYPES[after[member_id]], "id": member_id})
        elif member_id in before and member_id not in after:
            changes.append(
                {
                    "@odata.type": ODATA_TYPES[before[member_id]],
                    "id": member_id,
                    "@removed": {"reason": "deleted"},
                }
            )
    return changes
