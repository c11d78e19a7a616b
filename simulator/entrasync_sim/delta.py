"""Delta query paging: which entries a page of a round holds, and where the next page starts.

Pages are computed from the round state alone (no per-client server state): objects are walked
in id order from the cursor, so a link can be replayed and gives the same page. Quirks
(duplicates, replays, empty pages) are decided by hashing the round and object, so they are
reproducible for a given seed.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any, TypeVar

from entrasync_sim.directory import DirectoryObject, Lifecycle, TenantDirectory
from entrasync_sim.schema import (
    MEMBER_KINDS,
    MEMBERS_PROPERTY,
    ODATA_TYPES,
    PROPERTIES,
    Kind,
    selectable,
)
from entrasync_sim.tokens import RoundState

_ALL_PROPERTIES = {kind: tuple(sorted(names)) for kind, names in PROPERTIES.items()}
_LIFECYCLE = attrgetter("lifecycle")
BodyBuilder = Callable[[DirectoryObject], dict[str, Any]]
# One tuple per list of names, so a group's cached head is checked by identity.
_NAME_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}
_MAX_NAME_KEYS = 4096
T = TypeVar("T")


class SelectError(Exception):
    """`$select` names a property the resource does not have."""


@dataclass(frozen=True)
class PagingLimits:
    """How much one page may hold, how much work one request may do, and its shape."""

    page_size: int
    member_slice: int
    scan_budget: int
    minimal: bool = False


@dataclass(frozen=True)
class Quirks:
    """Probabilities of Graph's delta oddities for one tenant (0 = never)."""

    duplicates: float = 0.0
    replays: float = 0.0
    empty_pages: float = 0.0
    seed: int = 0
    # A restore that brings no change of a selected property is left out of `$select` delta
    # rounds (microsoft-graph-docs#5821): once decided for a restore, for good.
    missed_restores: float = 0.0


def parse_select(kind: Kind, raw: str | None) -> tuple[str, ...] | None:
    """Canonical, sorted `$select` list (case-insensitive names), or None when absent."""
    if raw is None:
        return None
    return _parse_select(kind, raw)


@functools.lru_cache(maxsize=1024)  # every page of a round repeats its `$select`
def _parse_select(kind: Kind, raw: str) -> tuple[str, ...]:
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


def chance(seed: int, tag: str, round_key: int, item: str) -> float:
    """A reproducible number in [0, 1) for one decision about one item in one round."""
    digest = hashlib.blake2b(f"{seed}:{tag}:{round_key}:{item}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def build_page(
    directory: TenantDirectory, state: RoundState, limits: PagingLimits, quirks: Quirks
) -> tuple[list[dict[str, Any]], RoundState | None]:
    """Entries of the page starting at `state`, and the state of the next page (None: done)."""
    where = f"{state.cursor}/{state.slice_index}"
    if quirks.empty_pages and not state.hops:
        if chance(quirks.seed, "empty", state.upto, where) < quirks.empty_pages:
            return [], replace(state, hops=1)
    state = replace(state, hops=0)
    ids = candidates(directory, state, quirks)
    if state.since is None and not quirks.duplicates and not tracks_members(state):
        return _plain_page(directory, state, limits)
    table = directory.objects[state.kind]
    return paginate(
        ids, state, limits, lambda i: _entries(directory, table[i], state, limits, quirks)
    )


def paginate(
    ids: list[str],
    state: RoundState,
    limits: PagingLimits,
    entries_of: Callable[[str], list[T]],
) -> tuple[list[T], RoundState | None]:
    """Walk `ids` from the state's cursor, taking each object's entries (a big group has
    several), until the page is full or the scan budget is spent."""
    resuming = state.slice_index > 0
    position = (bisect.bisect_left if resuming else bisect.bisect_right)(ids, state.cursor)
    page: list[T] = []
    previous = state.cursor
    end = min(len(ids), position + limits.scan_budget)
    for index in range(position, end):
        object_id = ids[index]
        entries = entries_of(object_id)
        first = state.slice_index if resuming and object_id == state.cursor else 0
        for slot in range(first, len(entries)):
            if len(page) >= limits.page_size:
                if slot == 0:
                    return page, replace(state, cursor=previous, slice_index=0)
                return page, replace(state, cursor=object_id, slice_index=slot)
            page.append(entries[slot])
        previous = object_id
    if end < len(ids):
        return page, replace(state, cursor=previous, slice_index=0)
    return page, None


def tracks_members(state: RoundState) -> bool:
    return state.kind in MEMBER_KINDS and (state.select is None or MEMBERS_PROPERTY in state.select)


def plain_names(state: RoundState) -> tuple[str, ...]:
    names = _ALL_PROPERTIES[state.kind] if state.select is None else state.select
    key = tuple(name for name in names if name != "id" and name != MEMBERS_PROPERTY)
    if len(_NAME_KEYS) >= _MAX_NAME_KEYS:  # a client trying every `$select`: start over
        _NAME_KEYS.clear()  # (a group rendered under a dropped key is rendered again)
    return _NAME_KEYS.setdefault(key, key)


def walk_plain(
    directory: TenantDirectory, state: RoundState, limits: PagingLimits
) -> tuple[list[DirectoryObject], RoundState | None]:
    """The live objects of one full-round page, and where the next page starts."""
    ids, objects = directory.sorted_ids[state.kind], directory.sorted_objects[state.kind]
    live = Lifecycle.LIVE
    start = bisect.bisect_right(ids, state.cursor)
    end, size = min(len(ids), start + limits.scan_budget), limits.page_size
    found = objects[start : min(end, start + size)]
    index = start + len(found)
    # Usually every object in the window is live: checked at C speed, no walk needed.
    if list(map(_LIFECYCLE, found)).count(live) != len(found):
        found, index = [], start
        while index < end and len(found) < size:
            obj = objects[index]
            index += 1
            if obj.lifecycle is live:
                found.append(obj)
    if index < len(ids):
        cursor = ids[index - 1] if index > start else state.cursor
        return found, replace(state, cursor=cursor, slice_index=0)
    return found, None


def _plain_page(
    directory: TenantDirectory, state: RoundState, limits: PagingLimits
) -> tuple[list[dict[str, Any]], RoundState | None]:
    """The hot path of a full round: one entry per live object, no slices, no quirks."""
    objects, next_state = walk_plain(directory, state, limits)
    build = body_builder(plain_names(state))
    return [build(obj) for obj in objects], next_state


@functools.lru_cache(maxsize=256)  # a client could ask for many `$select`s: keep a few
def body_builder(names: tuple[str, ...]) -> BodyBuilder:
    """A function giving `id` and the named properties of an object that are not null,
    compiled once per list of names to a single dict display (Graph leaves null and never-set
    properties out of a full round: user-delta.md, group-delta.md).

    Filling a dict name by name made a page's first rendering cost a sixth more (197 against
    169–175 µs in-process for 200 users). The names are the schema's (`plain_names` after
    `parse_select`), never raw request text; anything but identifiers is refused before it
    reaches the compiler.
    """
    if not all(name.isidentifier() for name in names):
        raise ValueError(f"not property names: {names!r}")
    fields = "".join(f"{name!r}: get({name!r}), " for name in names)
    source = (
        f"def build(obj):\n    get = obj.props.get\n    body = {{'id': obj.id, {fields}}}\n"
        "    if None in body.values():\n"
        "        body = {k: v for k, v in body.items() if v is not None}\n"
        "    return body"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # the names were checked above
    builder: BodyBuilder = namespace["build"]
    return builder


def candidates(directory: TenantDirectory, state: RoundState, quirks: Quirks) -> list[str]:
    """Ids this round walks, sorted: every id (full round) or those changed (or replayed)."""
    if state.since is None:
        return directory.sorted_ids[state.kind]
    index = directory.changes[state.kind]
    changed = tracked(directory, state, state.since, state.upto, quirks)
    if not quirks.replays:
        return changed
    key = ("replays", state.since, state.upto, state.replay_since, state.select, quirks)
    cached = index.memo.get(key)
    if cached is None:
        earlier = tracked(directory, state, state.replay_since or 0, state.since, quirks)
        replayed = {
            i for i in earlier if chance(quirks.seed, "replay", state.upto, i) < quirks.replays
        }
        cached = sorted(replayed.union(changed))
        index.remember(key, cached)
    return cached


def tracked(
    directory: TenantDirectory, state: RoundState, after: int, upto: int, quirks: Quirks
) -> list[str]:
    """Sorted ids changed within (after, upto] in a way the round's `$select` tracks.

    delta-query-overview.md ("Optional query parameters"): with `$select` "the client prefers
    to only track changes on the properties or relationships specified in the `$select`
    statement. If a change occurs to a property that isn't selected, the resource for which
    that property changed doesn't appear in the delta response". Without `$select` the default
    set, here every property, is tracked.
    """
    index = directory.changes[state.kind]
    changed = index.between(after, upto)
    if state.select is None:
        return changed
    key = ("tracked", after, upto, state.select, quirks.missed_restores, quirks.seed)
    cached = index.memo.get(key)
    if cached is None:
        table = directory.objects[state.kind]
        cached = [i for i in changed if _tracks(directory, table[i], state, after, upto, quirks)]
        index.remember(key, cached)
    return cached


def _tracks(
    directory: TenantDirectory,
    obj: DirectoryObject,
    state: RoundState,
    after: int,
    upto: int,
    quirks: Quirks,
) -> bool:
    """Whether a change of `obj` within (after, upto] counts for the round's `$select`:
    its creation, deletion or restore, a selected property set (null included), or, when a
    group's `members` is selected, a member added or removed."""
    if obj.lifecycle is not Lifecycle.LIVE:
        return True
    assert state.select is not None
    if after < obj.born_seq <= upto and not _restore_missed(obj, quirks):
        return True
    if obj.props_changed_within(after, upto, state.select):
        return True
    return tracks_members(state) and directory.members_changed(obj.id, after, upto)


def _restore_missed(obj: DirectoryObject, quirks: Quirks) -> bool:
    """The `missed_restores` quirk: decided once per restore (its sequence), so every round
    and every replay agrees."""
    if not obj.restored or not quirks.missed_restores:
        return False
    return chance(quirks.seed, "restore", obj.born_seq, obj.id) < quirks.missed_restores


def _window_start(directory: TenantDirectory, obj: DirectoryObject, state: RoundState) -> int:
    """`since`, or where the previous round started when this entry is a replay."""
    assert state.since is not None
    if state.since < obj.changed_seq <= state.upto:
        return state.since
    if obj.kind in MEMBER_KINDS and directory.members_changed(obj.id, state.since, state.upto):
        return state.since
    return state.replay_since or 0


def _entries(
    directory: TenantDirectory,
    obj: DirectoryObject,
    state: RoundState,
    limits: PagingLimits,
    quirks: Quirks,
) -> list[dict[str, Any]]:
    entries = _object_entries(directory, obj, state, limits)
    if entries and quirks.duplicates:
        if chance(quirks.seed, "duplicate", state.upto, obj.id) < quirks.duplicates:
            return entries + entries
    return entries


def _object_entries(
    directory: TenantDirectory, obj: DirectoryObject, state: RoundState, limits: PagingLimits
) -> list[dict[str, Any]]:
    track_members = tracks_members(state)
    if state.since is None:
        if obj.lifecycle is not Lifecycle.LIVE:
            return []
        start = 0
        before: dict[str, Kind] = {}
        body = _project(obj, state.select, None, ())
    else:
        if obj.lifecycle is Lifecycle.HARD_DELETED:
            return [{"id": obj.id, "@removed": {"reason": "deleted"}}]
        if obj.lifecycle is Lifecycle.SOFT_DELETED:
            return [{"id": obj.id, "@removed": {"reason": "changed"}}]
        start = _window_start(directory, obj, state)
        is_new = obj.born_seq > start
        before = {} if is_new or not track_members else directory.members_at(obj.id, start)
        recent = () if is_new else obj.changed_since(start)
        body = _project(
            obj, state.select, recent if limits.minimal and not is_new else None, recent
        )
    if not track_members:
        return [body]
    if state.since is None:
        changes = _all_members(directory, obj.id, state.upto)
    else:
        changes = _member_changes(directory, before, directory.members_at(obj.id, state.upto))
    if not changes:
        return [body]
    size = limits.member_slice
    return [{**body, "members@delta": changes[i : i + size]} for i in range(0, len(changes), size)]


def _project(
    obj: DirectoryObject,
    select: tuple[str, ...] | None,
    changed: Sequence[str] | None,
    recent: Sequence[str],
) -> dict[str, Any]:
    """Selected properties (all when no `$select`), only the `changed` ones when given.

    A null or never-set property is left out, as Graph does, unless it was set to null in
    this round's window (`recent`): user-delta.md, "This includes properties being set to
    null value" and "If the property has never been set before it will not be included".
    """
    names = _ALL_PROPERTIES[obj.kind] if select is None else select
    if changed is not None:
        wanted = set(changed)
        names = tuple(name for name in names if name in wanted)
    props = obj.props
    body: dict[str, Any] = {"id": obj.id}
    for name in names:
        if name != "id" and name != MEMBERS_PROPERTY:
            value = props.get(name)
            if value is not None or name in recent:
                body[name] = value
    return body


def _all_members(directory: TenantDirectory, group_id: str, upto: int) -> list[dict[str, Any]]:
    """A full round's `members@delta`: every member edge at `upto`, sorted by id."""
    log = directory.member_log.get(group_id, [])
    if log and log[-1].seq > upto:
        return _edge_refs(directory.members_at(group_id, upto))
    return _edge_refs(directory.members.get(group_id, {}))


def _edge_refs(members: dict[str, Kind]) -> list[dict[str, Any]]:
    """Every edge, soft-deleted members' too: Graph keeps them (microsoft-graph-docs#7115)."""
    return [
        {"@odata.type": ODATA_TYPES[members[member_id]], "id": member_id}
        for member_id in sorted(members)
    ]


def _member_changes(
    directory: TenantDirectory, before: dict[str, Kind], after: dict[str, Kind]
) -> list[dict[str, Any]]:
    """Additions and removals of edges, sorted by member id (a soft-deleted member's edge
    counts: Graph's delta tracks edges, not their members' lifecycles)."""
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
