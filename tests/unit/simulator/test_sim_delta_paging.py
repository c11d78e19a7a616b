"""Delta paging over an in-memory directory: slices, page boundaries, quirks, sparse bodies."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from entrasync_sim.delta import PagingLimits, Quirks, body_builder, build_page
from entrasync_sim.delta_text import page_texts
from entrasync_sim.directory import PageCache, TenantDirectory
from entrasync_sim.tokens import RoundState

NO_QUIRKS = Quirks()


def _directory(users: int = 30, group_members: int = 23) -> tuple[TenantDirectory, list[str]]:
    directory = TenantDirectory()
    ids = [directory.create("users", {"displayName": f"U{n}"}).id for n in range(users)]
    group = directory.create("groups", {"displayName": "Big"})
    directory.change_members(group.id, ids[:group_members], [])
    directory.create("groups", {"displayName": "Empty"})
    return directory, ids


def _round(
    directory: TenantDirectory,
    state: RoundState,
    limits: PagingLimits,
    quirks: Quirks = NO_QUIRKS,
) -> tuple[list[list[dict[str, Any]]], RoundState]:
    pages = []
    current: RoundState | None = state
    last = state
    while current is not None:
        last = current
        page, current = build_page(directory, current, limits, quirks)
        pages.append(page)
    return pages, last


_LIMITS = PagingLimits(10, 5, 100)


def _full(directory: TenantDirectory, kind: str, select: tuple[str, ...] | None) -> RoundState:
    return RoundState(kind, "t", select, None, directory.seq)  # type: ignore[arg-type]


def test_a_big_group_is_sliced_and_its_slices_straddle_pages() -> None:
    directory, ids = _directory()
    limits = PagingLimits(page_size=2, member_slice=5, scan_budget=100)

    pages, _ = _round(directory, _full(directory, "groups", ("displayName", "members")), limits)

    entries = [entry for page in pages for entry in page]
    assert all(len(page) <= 2 for page in pages)
    assert sorted(len(e.get("members@delta", [])) for e in entries) == [0, 3, 5, 5, 5, 5]
    merged = [m["id"] for e in entries for m in e.get("members@delta", [])]
    assert sorted(merged) == sorted(ids[:23])


def test_every_user_appears_once_for_any_page_size() -> None:
    directory, ids = _directory()
    for size in (1, 3, 7, 30, 200):
        limits = PagingLimits(page_size=size, member_slice=5, scan_budget=1000)
        pages, _ = _round(directory, _full(directory, "users", ("displayName",)), limits)
        assert sorted(e["id"] for page in pages for e in page) == sorted(ids)


def test_the_scan_budget_yields_empty_pages_that_still_continue() -> None:
    directory, ids = _directory()
    for user in ids[:25]:
        directory.delete("users", user, hard=True)
    limits = PagingLimits(page_size=10, member_slice=5, scan_budget=4)

    pages, _ = _round(directory, _full(directory, "users", None), limits)

    assert [] in pages
    assert sorted(e["id"] for page in pages for e in page) == sorted(ids[25:])


def test_a_delta_round_walks_only_what_changed() -> None:
    directory, ids = _directory()
    since = directory.seq
    directory.update("users", ids[3], {"displayName": "Changed"})
    directory.delete("users", ids[4])
    state = RoundState("users", "t", ("displayName",), since, directory.seq)
    limits = PagingLimits(page_size=10, member_slice=5, scan_budget=1)

    pages, _ = _round(directory, state, limits)

    assert sorted((e["id"], e.get("displayName")) for p in pages for e in p) == sorted(
        [(ids[3], "Changed"), (ids[4], None)]
    )


def test_minimal_bodies_carry_only_changed_properties() -> None:
    directory = TenantDirectory()
    user = directory.create("users", {"displayName": "A", "jobTitle": "B", "department": "C"})
    since = directory.seq
    directory.update("users", user.id, {"department": None})
    state = RoundState("users", "t", None, since, directory.seq)

    [page], _ = _round(directory, state, PagingLimits(10, 5, 100, minimal=True))

    assert page == [{"id": user.id, "department": None}]


def test_full_and_delta_bodies_leave_null_properties_out_but_carry_a_fresh_clear() -> None:
    directory = TenantDirectory()
    user = directory.create("users", {"displayName": "A", "jobTitle": "B", "mail": None})
    since = directory.seq
    directory.update("users", user.id, {"jobTitle": None})
    delta = RoundState("users", "t", None, since, directory.seq)

    [full], _ = _round(directory, _full(directory, "users", None), PagingLimits(10, 5, 100))
    [default], _ = _round(directory, delta, PagingLimits(10, 5, 100))
    [minimal], _ = _round(directory, delta, PagingLimits(10, 5, 100, minimal=True))
    [later], _ = _round(
        directory, RoundState("users", "t", None, directory.seq, directory.seq + 1), _LIMITS
    )

    # user-delta.md: never-set (and null) properties are not included; a property set to null
    # since the last round is, with or without `Prefer: return=minimal`.
    assert full == [{"id": user.id, "displayName": "A"}]
    assert default == [{"id": user.id, "displayName": "A", "jobTitle": None}]
    assert minimal == [{"id": user.id, "jobTitle": None}]
    assert later == []


def test_a_soft_deleted_members_edge_stays_in_full_rounds_and_restore_reports_nothing() -> None:
    directory, ids = _directory(users=3, group_members=2)
    directory.delete("users", ids[0])
    since = directory.seq
    directory.restore("users", ids[0])

    [page], _ = _round(directory, _full(directory, "groups", ("members",)), _LIMITS)
    delta, _ = _round(
        directory, RoundState("groups", "t", ("members",), since, directory.seq), _LIMITS
    )

    listed = {m["id"] for entry in page for m in entry.get("members@delta", [])}
    assert listed == set(ids[:2])
    assert delta == [[]]


def test_duplicates_and_replays_are_reproducible() -> None:
    directory, _ = _directory()
    limits = PagingLimits(page_size=4, member_slice=5, scan_budget=100)
    quirks = Quirks(duplicates=0.5, seed=9)

    first, _ = _round(directory, _full(directory, "users", None), limits, quirks)
    second, _ = _round(directory, _full(directory, "users", None), limits, quirks)

    counts = Counter(e["id"] for page in first for e in page)
    assert first == second
    assert set(counts.values()) == {1, 2}


def test_the_next_round_remembers_where_the_previous_one_started() -> None:
    directory, _ = _directory()
    state = RoundState("users", "t", None, 5, 9, issued_at=1)

    following = state.next_round(issued_at=2)

    assert (following.since, following.replay_since, following.issued_at) == (9, 5, 2)


def _text_round(
    directory: TenantDirectory, state: RoundState, limits: PagingLimits
) -> list[list[dict[str, Any]]]:
    pages = []
    current: RoundState | None = state
    while current is not None:
        rendered = page_texts(directory, current, limits, NO_QUIRKS)
        assert rendered is not None
        pieces, current = rendered
        pages.append(json.loads("".join(pieces)))
    return pages


@pytest.mark.parametrize(
    ("kind", "select"),
    [("users", ("displayName",)), ("groups", ("displayName", "members")), ("groups", None)],
)
def test_rendered_texts_match_the_entries_page_for_page(
    kind: str, select: tuple[str, ...] | None
) -> None:
    directory, ids = _directory(users=150, group_members=130)
    directory.delete("users", ids[5])
    limits = PagingLimits(page_size=7, member_slice=20, scan_budget=100)
    state = _full(directory, kind, select)

    expected, _ = _round(directory, state, limits)

    assert _text_round(directory, state, limits) == expected
    assert _text_round(directory, state, limits) == expected  # from the caches


def test_a_big_groups_cached_members_keep_soft_deleted_edges_and_follow_membership_changes() -> (
    None
):
    directory, ids = _directory(users=1200, group_members=1100)
    limits = PagingLimits(page_size=500, member_slice=500, scan_budget=5000)

    def members() -> set[str]:
        pages = _text_round(directory, _full(directory, "groups", ("members",)), limits)
        return {m["id"] for page in pages for e in page for m in e.get("members@delta", [])}

    before = members()
    directory.delete("users", ids[0])
    while_soft_deleted = members()
    directory.restore("users", ids[0])
    directory.change_members(next(iter(directory.members)), [], [ids[1]])

    assert before == set(ids[:1100])
    # Graph keeps a soft-deleted member's edge and lists it in full rounds (docs#7115).
    assert while_soft_deleted == before
    assert directory.live_members(next(iter(directory.members))) == sorted(before - {ids[1]})
    assert members() == before - {ids[1]}


def test_a_compiled_body_has_the_id_and_leaves_null_and_never_set_properties_out() -> None:
    directory, ids = _directory(users=1)
    user = directory.objects["users"][ids[0]]
    user.props["jobTitle"] = None

    body = body_builder(("displayName", "jobTitle", "mail"))(user)

    assert body == {"id": ids[0], "displayName": "U0"}
    assert body_builder(("displayName", "mail")) is body_builder(("displayName", "mail"))


def test_only_property_names_are_compiled() -> None:
    with pytest.raises(ValueError, match="not property names"):
        body_builder(("displayName", "x'): 1}; import os; {('"))


def test_a_repeated_round_is_served_from_cached_pages_until_anything_changes() -> None:
    directory, ids = _directory(users=40)
    limits = PagingLimits(page_size=7, member_slice=20, scan_budget=100)
    first = _text_round(directory, _full(directory, "users", ("displayName",)), limits)
    stale = _full(directory, "users", ("displayName",))  # begins before the change below

    directory.update("users", ids[3], {"displayName": "Renamed"})
    directory.delete("users", ids[4])
    after = _text_round(directory, _full(directory, "users", ("displayName",)), limits)
    names = {e["id"]: e["displayName"] for page in after for e in page}

    assert _text_round(directory, _full(directory, "users", ("displayName",)), limits) == after
    assert [e for page in first for e in page] != [e for page in after for e in page]
    assert names[ids[3]] == "Renamed" and ids[4] not in names and len(names) == 39
    # A round that began before a change is rendered afresh, never from the cache.
    assert {e["id"] for page in _text_round(directory, stale, limits) for e in page} == set(names)


@pytest.mark.parametrize("kind", ["users", "groups"])
def test_a_page_with_nothing_live_is_an_empty_array(kind: str) -> None:
    directory, ids = _directory(users=3, group_members=2)
    for object_id in list(directory.objects[kind]):
        directory.delete(kind, object_id, hard=True)  # type: ignore[arg-type]
    limits = PagingLimits(page_size=5, member_slice=20, scan_budget=100)

    assert _text_round(directory, _full(directory, kind, None), limits) == [[]]


def test_the_page_cache_starts_over_past_its_size_and_pages_stay_right() -> None:
    directory, _ = _directory(users=60)
    directory.page_texts = PageCache(max_chars=2_000)
    limits = PagingLimits(page_size=5, member_slice=20, scan_budget=100)
    state = _full(directory, "users", ("displayName",))

    first = _text_round(directory, state, limits)
    assert directory.page_texts.chars <= 2_000 + max(len(json.dumps(p)) for p in first)
    assert _text_round(directory, state, limits) == first
    assert len(directory.page_texts.pages) < len(first)
