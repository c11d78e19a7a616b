"""A brute-force reference for effective membership, and the checks that compare the index to it.

The reference holds the edges as plain dicts and computes the transitive closure by a BFS from
every group and role; units are direct only. Nothing here shares code with the index.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from entrasync_history.domain.effective import (
    ContainerType,
    EffectiveDelta,
    EffectiveIndex,
    Membership,
    MembershipEdit,
    Neighbourhood,
)
from entrasync_shared.members import MemberType

Closure = dict[str, dict[str, int]]  # principal → container → shortest distance


@dataclass
class Edges:
    """A tenant's direct memberships: container → member → member type."""

    types: dict[str, ContainerType] = field(default_factory=dict)
    members: dict[str, dict[str, MemberType]] = field(default_factory=dict)
    templates: dict[str, str | None] = field(default_factory=dict)

    def edit(self, edit: MembershipEdit) -> None:
        self.types[edit.container_id] = edit.container_type
        if edit.container_type == "directoryRole":
            self.templates[edit.container_id] = edit.role_template_id
        held = self.members.setdefault(edit.container_id, {})
        for member in edit.removed - edit.added.keys():
            held.pop(member, None)
        held.update(edit.added)

    def remove_object(self, object_id: str) -> None:
        self.members.pop(object_id, None)
        for held in self.members.values():
            held.pop(object_id, None)

    def edits(self) -> list[MembershipEdit]:
        return [
            MembershipEdit(self.types[c], c, dict(held), role_template_id=self.templates.get(c))
            for c, held in self.members.items()
            if held
        ]

    def has_edge(self, container: str, member: str) -> bool:
        return member in self.members.get(container, {})


def closure(edges: Edges) -> Closure:
    """BFS from every container; a unit's members are in it directly, nothing flows through."""
    found: Closure = {}
    for container, held in edges.members.items():
        if edges.types[container] == "administrativeUnit":
            for member in held:
                found.setdefault(member, {})[container] = 1
            continue
        distance = {container: 0}
        queue = deque([container])
        while queue:
            node = queue.popleft()
            if node != container and edges.types.get(node) != "group":
                continue  # only groups pass their membership on
            for member in edges.members.get(node, {}):
                if member not in distance:
                    distance[member] = distance[node] + 1
                    queue.append(member)
        for member, steps in distance.items():
            if member != container:
                found.setdefault(member, {})[container] = steps
    return found


def pairs(found: Closure) -> set[tuple[str, str]]:
    return {(p, c) for p, held in found.items() for c in held}


def check_state(index: EffectiveIndex, edges: Edges) -> Closure:
    """The index answers what the brute force says, with valid shortest paths, both ways, and
    the very paths a fresh build makes."""
    expected = closure(edges)
    fresh = EffectiveIndex.build(edges.edits())
    principals = set(expected) | set(edges.types) | {m for h in edges.members.values() for m in h}
    for principal in principals:
        got = index.memberships(principal)
        assert {m.container.id: len(m.path) for m in got} == expected.get(principal, {}), principal
        assert got == fresh.memberships(principal)
        for membership in got:
            check_path(edges, principal, membership)
    for container in edges.members:
        by_path = {
            p: m.path
            for p in principals
            for m in index.memberships(p)
            if m.container.id == container
        }
        assert index.members(container) == by_path, container
    return expected


def check_path(edges: Edges, principal: str, membership: Membership) -> None:
    path = membership.path
    assert path[0] == membership.container.id
    chain = [*path, principal]
    assert all(edges.has_edge(a, b) for a, b in zip(chain, chain[1:], strict=False)), chain


def check_deltas(
    deltas: list[EffectiveDelta],
    before: Closure,
    after: Closure,
    old_paths: dict[str, list[Membership]],
    index: EffectiveIndex,
) -> None:
    """The deltas are exactly the difference of the two closures, gains with their new path,
    losses with the path they had, one delta per principal."""
    gained = {(d.principal_id, m.container.id) for d in deltas for m in d.gained}
    lost = {(d.principal_id, m.container.id) for d in deltas for m in d.lost}
    assert gained == pairs(after) - pairs(before)
    assert lost == pairs(before) - pairs(after)
    assert len({d.principal_id for d in deltas}) == len(deltas)
    for delta in deltas:
        assert delta.gained or delta.lost
        now = set(index.memberships(delta.principal_id))
        assert set(delta.gained) <= now
        assert set(delta.lost) <= set(old_paths.get(delta.principal_id, []))


def neighbourhood(
    edges: Edges, stored: EffectiveIndex, batch: list[MembershipEdit]
) -> Neighbourhood:
    """What `Neighbourhood` says to load for `batch`, taken from the edges and from the
    ancestors `stored` holds (as history would read them from its database)."""
    mentioned = {m for edit in batch for m in [*edit.added, *edit.removed]}
    reach, todo = set(), list(mentioned)
    while todo:
        node = todo.pop()
        if node not in reach:
            reach.add(node)
            if edges.types.get(node) == "group":
                todo.extend(edges.members.get(node, {}))
    nodes = reach | {edit.container_id for edit in batch}

    def holders(node: str, units: bool) -> tuple[str, ...]:
        return tuple(
            c
            for c, held in edges.members.items()
            if node in held and (edges.types[c] == "administrativeUnit") == units
        )

    parents = {n: holders(n, units=False) for n in nodes}
    above = {p for held in parents.values() for p in held}
    kinds: dict[str, MemberType] = {}
    for container, held in edges.members.items():
        kinds.update(held)
        if edges.types[container] == "group":
            kinds[container] = "group"
    return Neighbourhood(
        groups=tuple(
            MembershipEdit("group", g, dict(edges.members[g]))
            for g in reach
            if edges.types.get(g) == "group" and edges.members.get(g)
        ),
        parents=parents,
        units_of={m: holders(m, units=True) for m in mentioned},
        kinds={n: k for n, k in kinds.items() if k != "user" and n in nodes | above},
        ancestors={g: stored.ancestors(g) for g in nodes | above},
        roles={r: t for r, t in edges.templates.items()},
    )
