"""`$select` scopes change tracking in delta rounds (delta-query-overview.md), and the
`missed_restores` quirk leaves a restore out of `$select` rounds (microsoft-graph-docs#5821)."""

from __future__ import annotations

from entrasync_sim.delta import PagingLimits, Quirks, build_page
from entrasync_sim.directory import TenantDirectory
from entrasync_sim.schema import Kind
from entrasync_sim.tokens import RoundState

_LIMITS = PagingLimits(page_size=50, member_slice=20, scan_budget=1000)
NO_QUIRKS = Quirks()


def _delta_ids(
    directory: TenantDirectory,
    kind: Kind,
    select: tuple[str, ...] | None,
    since: int,
    quirks: Quirks = NO_QUIRKS,
) -> list[str]:
    """Ids of every entry of the delta round over (since, now]."""
    state: RoundState | None = RoundState(kind, "t", select, since, directory.seq)
    ids: list[str] = []
    while state is not None:
        page, state = build_page(directory, state, _LIMITS, quirks)
        ids.extend(entry["id"] for entry in page)
    return ids


def _users(directory: TenantDirectory, count: int) -> list[str]:
    return [
        directory.create("users", {"displayName": f"U{n}", "jobTitle": "Clerk"}).id
        for n in range(count)
    ]


def test_a_change_to_an_unselected_property_does_not_bring_the_object_back() -> None:
    directory = TenantDirectory()
    quiet, loud = _users(directory, 2)
    since = directory.seq
    directory.update("users", quiet, {"jobTitle": "Chief"})
    directory.update("users", loud, {"displayName": "Loud"})

    assert _delta_ids(directory, "users", ("displayName",), since) == [loud]
    assert sorted(_delta_ids(directory, "users", ("displayName", "jobTitle"), since)) == sorted(
        [quiet, loud]
    )
    assert sorted(_delta_ids(directory, "users", None, since)) == sorted([quiet, loud])


def test_clearing_a_selected_property_counts_and_id_alone_tracks_only_lifecycles() -> None:
    directory = TenantDirectory()
    cleared, renamed, gone = _users(directory, 3)
    since = directory.seq
    directory.update("users", cleared, {"jobTitle": None})
    directory.update("users", renamed, {"displayName": "New"})
    directory.delete("users", gone)
    born = directory.create("users", {"displayName": "Born"}).id

    assert sorted(_delta_ids(directory, "users", ("jobTitle",), since)) == sorted(
        [cleared, gone, born]
    )
    assert sorted(_delta_ids(directory, "users", ("id",), since)) == sorted([gone, born])


def test_membership_changes_count_only_when_members_is_selected() -> None:
    directory = TenantDirectory()
    (user,) = _users(directory, 1)
    group = directory.create("groups", {"displayName": "G"}).id
    since = directory.seq
    directory.change_members(group, [user], [])

    assert _delta_ids(directory, "groups", ("displayName",), since) == []
    assert _delta_ids(directory, "groups", ("displayName", "members"), since) == [group]
    assert _delta_ids(directory, "groups", None, since) == [group]


def test_a_restore_is_reported_unless_the_missed_restores_quirk_leaves_it_out() -> None:
    directory = TenantDirectory()
    restored, other = _users(directory, 2)
    directory.delete("users", restored)
    since = directory.seq
    directory.restore("users", restored)
    quirk = Quirks(missed_restores=1.0)

    assert _delta_ids(directory, "users", ("displayName",), since) == [restored]
    assert _delta_ids(directory, "users", ("displayName",), since, quirk) == []
    assert _delta_ids(directory, "users", None, since, quirk) == [restored]  # no `$select`
    # A created object is never missed; a selected change after the restore brings it back.
    directory.update("users", restored, {"displayName": "Back"})
    assert _delta_ids(directory, "users", ("displayName",), since, quirk) == [restored]
    later = directory.seq
    directory.delete("users", other, hard=True)
    assert _delta_ids(directory, "users", ("displayName",), later, quirk) == [other]
