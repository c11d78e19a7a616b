"""Full-round pages as JSON, the hot path of every benchmark.

A page of users or devices is rendered by one orjson call; a group's head is rendered once per
`$select` and kept until the group changes, and its `members@delta` slices are joined from the
directory's per-object reference JSON (`live_refs`; soft-deleted members' are made) and kept until
its membership or any object's lifecycle changes. Rendered pages are kept whole while the
directory stays as it is, so a repeated full round costs one join and one encode a page.
Delta rounds, and rounds with duplicates or empty pages, go through `build_page` instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, cast

import orjson

from entrasync_sim.delta import (
    BodyBuilder,
    PagingLimits,
    Quirks,
    body_builder,
    paginate,
    plain_names,
    tracks_members,
    walk_plain,
)
from entrasync_sim.directory import DirectoryObject, Lifecycle, TenantDirectory
from entrasync_sim.schema import MEMBER_KINDS, Kind
from entrasync_sim.tokens import RoundState


def encode(value: Any) -> str:
    """Compact JSON, as Graph writes it, as a right-sized string (orjson's own bytes keep a
    4 KiB buffer each: caching them would cost 4 KiB an object)."""
    return orjson.dumps(value).decode()


def page_texts(
    directory: TenantDirectory, state: RoundState, limits: PagingLimits, quirks: Quirks
) -> tuple[list[str], RoundState | None] | None:
    """The page at `state` as pieces of JSON that, concatenated, are its `value` array; None
    unless it is a plain full round.

    Pieces, not a text per entry: a big group's entry is its head and a slice of members, and
    a page of groups is about a megabyte; gluing entries, then the page, together copied it
    twice more than the one join `page_bytes` makes.
    """
    if state.since is not None or quirks.duplicates or quirks.empty_pages:
        return None
    if state.upto != directory.seq:  # the round began before the latest change
        return _render_page(directory, state, limits)[:2]
    # Nothing has changed since the round began: the page is what it was last time.
    cache = directory.page_texts
    if cache.seq != directory.seq or cache.chars > cache.max_chars:
        cache.pages.clear()
        cache.seq, cache.chars = directory.seq, 0
    key = (state.kind, state.select, state.cursor, state.slice_index, limits)
    cached = cache.pages.get(key)
    if cached is None:
        pieces, next_state, chars = _render_page(directory, state, limits)
        after = None if next_state is None else (next_state.cursor, next_state.slice_index)
        cache.pages[key] = (pieces, after)
        cache.chars += chars
        return pieces, next_state
    pieces, after = cached
    if after is None:
        return pieces, None
    return pieces, replace(state, cursor=after[0], slice_index=after[1])


def _render_page(
    directory: TenantDirectory, state: RoundState, limits: PagingLimits
) -> tuple[list[str], RoundState | None, int]:
    """Pieces, the next page's state, and the characters the page holds of its own (member
    slices belong to the directory's cache and are not counted)."""
    names = plain_names(state)
    build = body_builder(names)
    if not tracks_members(state):
        objects, next_state = walk_plain(directory, state, limits)
        # One orjson call for the page: a call, a decoded text and a cached text per object
        # cost half as much again, and the page is cached whole anyway.
        text = orjson.dumps(list(map(build, objects))).decode()
        return [text], next_state, len(text)
    ids = directory.sorted_ids[state.kind]
    groups, live = directory.objects[state.kind], Lifecycle.LIVE

    def entries_of(group_id: str) -> list[tuple[str, ...]]:
        group = groups[group_id]
        if group.lifecycle is not live:
            return []
        head = _text(group, names, build)
        slices = _member_slices(directory, group_id, state.upto, limits.member_slice)
        if not slices:
            return [(head,)]
        open_head = head[:-1] + ',"members@delta":['
        return [(open_head, part, "]}") for part in slices]

    entries, next_state = paginate(ids, state, limits, entries_of)
    pieces = ["["]
    for entry in entries:
        pieces += entry
        pieces.append(",")
    if entries:
        pieces[-1] = "]"
    else:
        pieces.append("]")
    return pieces, next_state, sum(len(entry[0]) for entry in entries)


def array_pieces(texts: list[str]) -> list[str]:
    """`["[", a, ",", b, "]"]`: JSON texts as the pieces of one array."""
    if not texts:
        return ["[]"]
    pieces = [","] * (2 * len(texts) + 1)
    pieces[1::2] = texts
    pieces[0], pieces[-1] = "[", "]"
    return pieces


def _text(obj: DirectoryObject, names: tuple[str, ...], build: BodyBuilder) -> str:
    if obj.text_names is not names or obj.text_seq != obj.changed_seq:
        obj.text = encode(build(obj))
        obj.text_names, obj.text_seq = names, obj.changed_seq
    return obj.text


def _member_slices(directory: TenantDirectory, group_id: str, upto: int, size: int) -> list[str]:
    log = directory.member_log.get(group_id, [])
    if log and log[-1].seq > upto:  # the round started before later membership changes
        return _slices(directory, directory.members_at(group_id, upto), size)
    current = directory.members.get(group_id, {})
    if not current:
        return []
    key = (len(log), directory.lifecycle_epoch, size)
    cached = directory.member_texts.get(group_id)
    if cached is None or cached[0] != key:
        cached = (key, _slices(directory, current, size))
        directory.member_texts[group_id] = cached
    return cached[1]


def render_memberships(directory: TenantDirectory, size: int) -> None:
    """Render the `members@delta` slices of every group, role and unit now: the server calls
    this right after seeding, so a tenant's first full groups round costs what a repeated one
    does (joining 1.25 M member references at 100k users is memory-bound, ~0.5 s, and belongs
    in startup)."""
    for kind in MEMBER_KINDS:
        for group_id in directory.sorted_ids[kind]:
            _member_slices(directory, group_id, directory.seq, size)


def _slices(directory: TenantDirectory, members: dict[str, Kind], size: int) -> list[str]:
    """Member edges as `members@delta` JSON, `size` references per slice, sorted by id.

    Membership dicts are kept in id order, so the sort is a linear check; the references
    come from `live_refs` at C speed. A soft-deleted member has none there but keeps its edge
    (Graph lists it in full rounds, microsoft-graph-docs#7115): its reference is made here.
    """
    ids = sorted(members)
    found = list(map(directory.live_refs.get, ids))
    if None in found:
        refs = [
            ref or directory.member_ref(m, members[m]) for m, ref in zip(ids, found, strict=True)
        ]
    else:
        refs = cast(list[str], found)
    return [",".join(refs[i : i + size]) for i in range(0, len(refs), size)]


def prerender_key(state: RoundState, limits: PagingLimits) -> tuple[Any, ...]:
    return (state.kind, state.select, limits)


async def prerender(
    directory: TenantDirectory, state: RoundState, limits: PagingLimits, quirks: Quirks
) -> None:
    """Render a full round's pages ahead of the client into the page cache, a page per
    event-loop turn, until the round ends or the directory changes.

    A syncer digests each page longer than the simulator takes to serve it, so rendering the
    later pages moves into time the server would otherwise sit idle.
    """
    upcoming: RoundState | None = state
    while upcoming is not None and directory.seq == state.upto:
        rendered = page_texts(directory, upcoming, limits, quirks)
        if rendered is None:
            return
        upcoming = rendered[1]
        await asyncio.sleep(0)
