"""Randomised: after every random sequence of membership edits, object removals and restores,
the incremental index equals a brute-force transitive closure (and a fresh build), and the
deltas each edit returns are exactly the difference between consecutive closures."""

from __future__ import annotations

import tempfile
from pathlib import Path

from effective_reference import Edges, check_deltas, check_state, closure, neighbourhood
from entrasync_history.domain.effective import (
    ContainerType,
    EffectiveIndex,
    Membership,
    MembershipEdit,
)
from entrasync_shared.members import MemberType
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "entrasync-hypothesis")

GROUPS = [f"g{n}" for n in range(7)]
ROLES = ["r0", "r1"]
UNITS = ["a0"]
USERS = ["u0", "u1", "u2", "u3"]
DEVICES = ["d0"]
CONTAINERS: dict[str, ContainerType] = {
    **dict.fromkeys(GROUPS, "group"),
    **dict.fromkeys(ROLES, "directoryRole"),
    **dict.fromkeys(UNITS, "administrativeUnit"),
}
KINDS: dict[str, MemberType] = {
    **dict.fromkeys(GROUPS, "group"),
    **dict.fromkeys(USERS, "user"),
    **dict.fromkeys(DEVICES, "device"),
}

members = st.sets(st.sampled_from(sorted(KINDS)), max_size=4)
edit = st.builds(
    lambda c, added, removed: ("edit", c, added, removed),
    st.sampled_from(sorted(CONTAINERS)),
    members,
    members,
)
removal = st.builds(lambda node: ("remove", node, set(), set()), st.sampled_from(sorted(KINDS)))
# Several edits applied as one change: the deltas are the net difference.
step = st.lists(st.one_of(edit, edit, edit, removal), min_size=1, max_size=3)


def as_edit(container: str, added: set[str], removed: set[str]) -> MembershipEdit:
    return MembershipEdit(
        CONTAINERS[container],
        container,
        added={m: KINDS[m] for m in sorted(added)},
        removed=frozenset(removed),
        role_template_id="t-" + container if container in ROLES else None,
    )


@settings(max_examples=400, deadline=None)
@given(start=st.lists(edit, max_size=12), steps=st.lists(step, min_size=1, max_size=12))
def test_incremental_effective_membership_equals_the_brute_force_after_every_change(
    start: list[tuple[str, str, set[str], set[str]]],
    steps: list[list[tuple[str, str, set[str], set[str]]]],
) -> None:
    edges = Edges()
    for _, container, added, removed in start:
        edges.edit(as_edit(container, added, removed))
    index = EffectiveIndex.build(edges.edits())
    before = check_state(index, edges)
    for change in steps:
        old_paths: dict[str, list[Membership]] = {p: index.memberships(p) for p in KINDS}
        deltas = []
        if change[0][0] == "remove":
            node = change[0][1]
            deltas = index.remove_object(node)
            edges.remove_object(node)
        else:
            batch = [as_edit(c, a, r) for kind, c, a, r in change if kind == "edit"]
            # The same change on an index holding only what `Neighbourhood` asks for.
            partial = EffectiveIndex.loaded(neighbourhood(edges, index, batch))
            changed = index.change(batch)
            deltas = changed.deltas
            for one in batch:
                edges.edit(one)
            done = partial.change(batch)
            assert done.deltas == deltas
            assert done.ancestors == changed.ancestors
            assert all(index.ancestors(g) == up for g, up in done.ancestors.items())
        after = check_state(index, edges)
        assert after == closure(edges)
        check_deltas(deltas, before, after, old_paths, index)
        before = after


@settings(max_examples=100, deadline=None)
@given(start=st.lists(edit, max_size=20), order=st.randoms(use_true_random=False))
def test_the_first_full_computation_equals_edits_applied_one_by_one(
    start: list[tuple[str, str, set[str], set[str]]], order: object
) -> None:
    edges = Edges()
    for _, container, added, removed in start:
        edges.edit(as_edit(container, added, removed))
    built = EffectiveIndex.build(edges.edits())
    stepwise = EffectiveIndex()
    edits = edges.edits()
    order.shuffle(edits)  # type: ignore[attr-defined]
    gained = [d for one in edits for d in stepwise.apply([one])]
    check_state(built, edges)
    check_state(stepwise, edges)
    everything = {d.principal_id: set(d.gained) for d in built.everything()}
    assert everything == {p: set(built.memberships(p)) for p in everything}
    reached = {(d.principal_id, m.container.id) for d in gained for m in d.gained}
    assert reached == {(p, m.container.id) for p, held in everything.items() for m in held}
