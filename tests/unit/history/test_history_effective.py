"""Effective membership in history's domain: nested groups and roles, units kept apart, paths,
cycles, removals, and the `effective_changed` payload."""

from __future__ import annotations

from dataclasses import replace

from effective_reference import Edges, check_state
from entrasync_history.domain.effective import (
    Container,
    EffectiveDelta,
    EffectiveIndex,
    Membership,
    MembershipEdit,
)
from entrasync_history.domain.effective_events import (
    effective_changed,
    effective_event_id,
    in_parts,
)

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"  # its roleTemplateId in every tenant


def group(gid: str, **members: str) -> MembershipEdit:
    return MembershipEdit("group", gid, added=members)


def role(rid: str, **members: str) -> MembershipEdit:
    return MembershipEdit("directoryRole", rid, added=members, role_template_id=GLOBAL_ADMIN)


def unit(uid: str, **members: str) -> MembershipEdit:
    return MembershipEdit("administrativeUnit", uid, added=members)


def without(kind: str, cid: str, *members: str) -> MembershipEdit:
    return MembershipEdit(kind, cid, removed=frozenset(members))


ADMIN_ROLE = Container("directoryRole", "ga", GLOBAL_ADMIN)


def tenant() -> EffectiveIndex:
    """Global Administrator held by a role-assignable group `admins`, which holds `tier0`."""
    return EffectiveIndex.build(
        [role("ga", admins="group", alice="user"), group("admins", tier0="group")]
    )


def test_a_user_added_to_a_group_nested_in_a_role_assigned_group_gains_the_role_in_one_delta() -> (
    None
):
    index = tenant()

    deltas = index.apply([group("tier0", bob="user")])

    assert deltas == [
        EffectiveDelta(
            "user",
            "bob",
            gained=(
                Membership(ADMIN_ROLE, ("ga", "admins", "tier0")),
                Membership(Container("group", "admins"), ("admins", "tier0")),
                Membership(Container("group", "tier0"), ("tier0",)),
            ),
        )
    ]
    [event] = effective_changed("t1", "run-1", "batch-7", deltas[0])
    assert (event.principal_type, event.principal_id, event.run_id) == ("user", "bob", "run-1")
    assert event.gained[0].container.role_template_id == GLOBAL_ADMIN


def test_a_removed_edge_loses_the_containers_above_it_with_the_path_they_had() -> None:
    index = tenant()
    index.apply([group("tier0", bob="user")])

    deltas = index.apply([without("group", "admins", "tier0")])

    # one delta per principal, by principal id
    assert deltas == [
        EffectiveDelta(
            "user",
            "bob",
            lost=(
                Membership(ADMIN_ROLE, ("ga", "admins", "tier0")),
                Membership(Container("group", "admins"), ("admins", "tier0")),
            ),
        ),
        EffectiveDelta(
            "group",
            "tier0",
            lost=(
                Membership(ADMIN_ROLE, ("ga", "admins")),
                Membership(Container("group", "admins"), ("admins",)),
            ),
        ),
    ]


def test_a_second_path_keeps_the_membership_and_the_shortest_path_is_reported() -> None:
    index = tenant()
    index.apply([group("tier0", bob="user"), role("ga", bob="user")])
    assert Membership(ADMIN_ROLE, ("ga",)) in index.memberships("bob")

    deltas = index.apply([without("directoryRole", "ga", "bob")])

    assert deltas == []  # still in the role, through the groups
    assert Membership(ADMIN_ROLE, ("ga", "admins", "tier0")) in index.memberships("bob")


def test_of_equally_short_paths_the_smallest_ids_win_whatever_the_order_of_edits() -> None:
    edits = [group("top", b="group", a="group"), group("a", u="user"), group("b", u="user")]
    forwards, backwards = EffectiveIndex(), EffectiveIndex()
    forwards.apply(edits)
    for edit in reversed(edits):
        backwards.apply([edit])

    assert Membership(Container("group", "top"), ("top", "a")) in forwards.memberships("u")
    assert forwards.memberships("u") == backwards.memberships("u")


def test_unit_membership_is_direct_only_and_reported_apart() -> None:
    index = EffectiveIndex.build(
        [unit("paris", staff="group", carol="user"), group("staff", dave="user")]
    )

    assert index.memberships("dave") == [Membership(Container("group", "staff"), ("staff",))]
    assert Membership(Container("administrativeUnit", "paris"), ("paris",)) in index.memberships(
        "staff"
    )
    deltas = index.apply([without("administrativeUnit", "paris", "carol")])
    assert deltas == [
        EffectiveDelta(
            "user",
            "carol",
            lost=(Membership(Container("administrativeUnit", "paris"), ("paris",)),),
        )
    ]


def test_a_cycle_ends_and_no_group_is_in_itself() -> None:
    index = EffectiveIndex.build([group("g1", g2="group"), group("g2", u="user")])

    deltas = index.apply([group("g2", g1="group")])

    # g2 is in g1 already; it is not reported in itself (through g1)
    assert deltas == [
        EffectiveDelta("group", "g1", gained=(Membership(Container("group", "g2"), ("g2",)),))
    ]
    assert {m.container.id for m in index.memberships("g1")} == {"g2"}
    assert index.members("g1") == {"g2": ("g1",), "u": ("g1", "g2")}
    assert index.apply([without("group", "g1", "g2")]) == [
        EffectiveDelta("group", "g2", lost=(Membership(Container("group", "g1"), ("g1",)),)),
        EffectiveDelta("user", "u", lost=(Membership(Container("group", "g1"), ("g1", "g2")),)),
    ]


def test_removing_a_group_drops_its_edges_both_ways_and_restoring_brings_them_back() -> None:
    index = tenant()
    index.apply([group("tier0", bob="user")])

    gone = index.remove_object("admins")

    assert {d.principal_id for d in gone} == {"admins", "tier0", "bob"}
    assert index.memberships("bob") == [Membership(Container("group", "tier0"), ("tier0",))]
    back = index.apply([group("admins", tier0="group"), role("ga", admins="group")])
    assert {(d.principal_id, len(d.gained)) for d in back} == {
        ("admins", 1),
        ("tier0", 2),
        ("bob", 2),
    }


def test_who_is_effectively_in_a_role_with_paths() -> None:
    index = tenant()
    index.apply([group("tier0", bob="user", sp="servicePrincipal")])

    assert index.members("ga") == {
        "admins": ("ga",),
        "alice": ("ga",),
        "tier0": ("ga", "admins"),
        "bob": ("ga", "admins", "tier0"),
        "sp": ("ga", "admins", "tier0"),
    }
    assert index.kind("sp") == "servicePrincipal"


def test_an_edit_that_changes_nothing_reports_nothing() -> None:
    index = tenant()

    assert index.apply([role("ga", alice="user"), without("group", "admins", "nobody")]) == []


def test_a_deep_nesting_is_followed_to_its_end() -> None:
    chain = [group(f"g{n}", **{f"g{n + 1}": "group"}) for n in range(7)]
    index = EffectiveIndex.build([*chain, group("g7", deep="user")])
    edges = Edges()
    for edit in [*chain, group("g7", deep="user")]:
        edges.edit(edit)

    check_state(index, edges)
    assert Membership(
        Container("group", "g0"), tuple(f"g{n}" for n in range(8))
    ) in index.memberships("deep")


def test_event_ids_follow_the_content_and_the_cause() -> None:
    delta = tenant().apply([group("tier0", bob="user")])[0]
    same = effective_event_id("t1", "run-1", "b1", delta)

    assert effective_event_id("t1", "run-1", "b1", replace(delta)) == same
    assert effective_event_id("t1", "run-1", "b2", delta) != same
    assert effective_event_id("t1", "run-2", "b1", delta) != same
    assert effective_event_id("t1", "run-1", "b1", replace(delta, gained=delta.gained[:1])) != same


def test_a_huge_delta_goes_out_in_parts_losses_first() -> None:
    entries = tuple(Membership(Container("group", f"g{n:04}"), (f"g{n:04}",)) for n in range(5))
    delta = EffectiveDelta("user", "u", gained=entries[:3], lost=entries[3:])

    parts = in_parts(delta, size=2)

    assert [(len(p.lost), len(p.gained)) for p in parts] == [(2, 0), (0, 2), (0, 1)]
    events = effective_changed("t", "r", "s", delta)
    assert len(events) == 1 and len({e.id for e in effective_changed("t", "r", "s", delta)}) == 1
