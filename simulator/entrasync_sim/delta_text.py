"""Full-round pages as JSON texts, the hot path of every benchmark.

An object keeps the text of its last rendering (per `$select`) until it changes, and a group
keeps its rendered member slices until its membership or any object's lifecycle changes, so
a repeated full round costs little more than joining strings. Delta rounds, and rounds with
duplicates or empty pages, go through `build_page` instead.
"""

from __future__ import annotations

import asyncio
import json

from entrasync_sim.delta import (
    PagingLimits,
    Quirks,
    candidates,
    paginate,
    plain_body,
    plain_names,
    tracks_members,
    walk_plain,
)
from entrasync_sim.directory import DirectoryObject, Lifecycle, TenantDirectory
from entrasync_sim.schema import KINDS, ODATA_TYPES, Kind
from entrasync_sim.tokens import RoundState

ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_REF_PREFIX = {kind: '{"@odata.type":"' + ODATA_TYPES[kind] + '","id":"' for kind in KINDS}
# Smaller groups are rebuilt each time: cheap, and it keeps the cache's memory down.
CACHED_GROUP_SIZE = 64


def page_texts(
    directory: TenantDirectory, state: RoundState, limits: PagingLimits, quirks: Quirks
) -> tuple[list[str], RoundState | None] | None:
    """The page at `state` as one JSON text per entry; None unless it is a plain full round."""
    if state.since is not None or quirks.duplicates or quirks.empty_pages:
        return None
    ids = candidates(directory, state, quirks)
    names = plain_names(state)
    if not tracks_members(state):
        objects, next_state = walk_plain(directory, ids, state, limits)
        return [_text(obj, names) for obj in objects], next_state
    groups, live = directory.objects["groups"], Lifecycle.LIVE

    def entries_of(group_id: str) -> list[str]:
        group = groups[group_id]
        if group.lifecycle is not live:
            return []
        head = _text(group, names)
        slices = _member_slices(directory, group_id, state.upto, limits.member_slice)
        if not slices:
            return [head]
        return [f'{head[:-1]},"members@delta":[{part}]}}' for part in slices]

    return paginate(ids, state, limits, entries_of)


def _text(obj: DirectoryObject, names: tuple[str, ...]) -> str:
    fragment = obj.fragment
    if fragment is None or fragment[0] is not names or fragment[1] != obj.changed_seq:
        fragment = (names, obj.changed_seq, ENCODE(plain_body(obj, names)))
        obj.fragment = fragment
    return fragment[2]


def _member_slices(directory: TenantDirectory, group_id: str, upto: int, size: int) -> list[str]:
    log = directory.member_log.get(group_id, [])
    if log and log[-1].seq > upto:  # the round started before later membership changes
        return _slices(directory, directory.members_at(group_id, upto), size)
    current = directory.members.get(group_id, {})
    if len(current) < CACHED_GROUP_SIZE:
        return _slices(directory, current, size)
    key = (len(log), directory.lifecycle_epoch, size)
    cached = directory.member_texts.get(group_id)
    if cached is None or cached[0] != key:
        cached = (key, _slices(directory, current, size))
        directory.member_texts[group_id] = cached
    return cached[1]


def _slices(directory: TenantDirectory, members: dict[str, Kind], size: int) -> list[str]:
    """Live members as `members@delta` JSON, `size` references per slice, sorted by id."""
    tables, live = directory.objects, Lifecycle.LIVE
    refs = []
    for member_id in sorted(members):
        kind = members[member_id]
        member = tables[kind].get(member_id)
        if member is not None and member.lifecycle is live:
            refs.append(_REF_PREFIX[kind] + member_id + '"}')
    return [",".join(refs[i : i + size]) for i in range(0, len(refs), size)]


def prerender_key(state: RoundState, limits: PagingLimits) -> tuple[str, tuple[str, ...], int]:
    return (state.kind, plain_names(state), limits.member_slice if tracks_members(state) else 0)


async def prerender(
    directory: TenantDirectory, state: RoundState, limits: PagingLimits, chunk: int = 256
) -> None:
    """Render a full round's objects ahead of the client, a chunk per event-loop turn.

    A syncer digests each page longer than the simulator takes to serve it, so the rendering
    of later pages moves into time the server would otherwise sit idle.
    """
    names = plain_names(state)
    table, live = directory.objects[state.kind], Lifecycle.LIVE
    members = tracks_members(state)
    ids = list(directory.sorted_ids[state.kind])
    for start in range(0, len(ids), chunk):
        for object_id in ids[start : start + chunk]:
            obj = table.get(object_id)
            if obj is not None and obj.lifecycle is live:
                _text(obj, names)
                if members:
                    _member_slices(directory, object_id, directory.seq, limits.member_slice)
        await asyncio.sleep(0)
