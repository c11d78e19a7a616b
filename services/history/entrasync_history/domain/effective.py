"""Effective membership: who is, directly or through nested groups, in which group or role.

Edges are direct memberships: a group's members (users, groups, devices, service principals,
contacts) and a directory role's members (users, service principals and role-assignable
groups). A principal is *effectively* in container C when a chain of edges leads from C down to
it; its *path* is that chain's container ids, C first, down to the principal's direct parent
(`(C,)` for a direct member). Of the shortest chains the index keeps the smallest one as a tuple
of ids, so a path depends on the edges only, never on the order they arrived in. An
administrative unit's members are kept apart: they are in the unit directly, and a group in a
unit does not put its members there ("adding a group to an administrative unit brings the group
itself into the management scope of the administrative unit, but not the members of the group",
learn.microsoft.com/entra/identity/role-based-access-control/administrative-units).

The index stores the edges both ways and, for every group that is itself a member somewhere,
its ancestors with their paths (`_up`). Users, devices and the like store
nothing more: their effective containers follow from their parents' ancestors when asked.
Nested groups number thousands where principals number hundreds of thousands, so the stored
closure stays small.

An edit touches only what it reaches: the pairs (A, d) whose shortest chain changes all run
through a changed edge c → m, so A is c or one of c's ancestors (before the edit) and d is m or
one of m's descendants (`reach`). The index compares those pairs before and after, recomputing
the ancestors of the groups in `reach` only, and reports each principal that gained or lost a
container. Cycles (Graph refuses them for security groups, not for every kind) end every walk
through a visited set, and a group is never reported as a member of itself.

The index need not hold the whole tenant: loaded with a change's `Neighbourhood` (its reach,
their parents, the stored ancestors around them) it returns the same deltas, and the ancestors
to store again (`change`). docs/effective-membership.md has the figures and the storage plan.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from entrasync_shared.members import MemberType

ContainerType = Literal["group", "directoryRole", "administrativeUnit"]
Path = tuple[str, ...]


@dataclass(frozen=True)
class MembershipEdit:
    """Direct members a container gained and lost (removals apply first)."""

    container_type: ContainerType
    container_id: str
    added: Mapping[str, MemberType] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()
    role_template_id: str | None = None


@dataclass(frozen=True, order=True)
class Container:
    """A group, a directory role (with its `roleTemplateId` when known) or a unit."""

    type: ContainerType
    id: str
    role_template_id: str | None = None


@dataclass(frozen=True, order=True)
class Membership:
    """A principal is in `container` through `path` (container first, direct parent last)."""

    container: Container
    path: Path

    @property
    def direct(self) -> bool:
        return len(self.path) == 1


@dataclass(frozen=True)
class EffectiveDelta:
    """What one principal gained and lost in one change: gains with their new path, losses
    with the path they had."""

    principal_type: MemberType
    principal_id: str
    gained: tuple[Membership, ...] = ()
    lost: tuple[Membership, ...] = ()


def _better(path: Path, than: Path | None) -> bool:
    return than is None or (len(path), path) < (len(than), than)


@dataclass(frozen=True)
class Changed:
    """What a change did: the deltas, and the new ancestors (maybe none) of each group it
    worked them out for again, to store."""

    deltas: list[EffectiveDelta]
    ancestors: Mapping[str, Mapping[str, Path]]


@dataclass(frozen=True)
class Neighbourhood:
    """What a change needs, when the index does not hold the whole tenant.

    For the edits' members and everything below them (`reach`: walk down the groups' members),
    and for the edited containers: `groups` — the members of every group in reach; `parents` —
    every group and role holding each of them (and `units_of`, the units holding each edited
    unit's members); `kinds` of them all (every kind but user); `ancestors` of every nested
    group in reach and of every parent above (their stored paths); `roles` — the role
    templates of the tenant's roles.
    """

    groups: tuple[MembershipEdit, ...] = ()
    parents: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    units_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kinds: Mapping[str, MemberType] = field(default_factory=dict)
    ancestors: Mapping[str, Mapping[str, Path]] = field(default_factory=dict)
    roles: Mapping[str, str | None] = field(default_factory=dict)


def _by_container(membership: Membership) -> tuple[str, str]:
    return (membership.container.type, membership.container.id)


def _offer(best: dict[str, Path], container: str, path: Path) -> None:
    if _better(path, best.get(container)):
        best[container] = path


class EffectiveIndex:
    """A tenant's direct memberships and the nested groups' ancestors, updated edit by edit."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}  # one str object per id, however often it is loaded
        self._kinds: dict[str, MemberType] = {}  # every kind but "user", the most common
        self._boxes: dict[str, Container] = {}
        self._members: dict[str, set[str]] = {}  # group or role → direct members
        # principal → groups and roles holding it: lists, as a principal is in few (a set costs
        # four times more, and there is one per user)
        self._parents: dict[str, list[str]] = {}
        self._roles: dict[str, str | None] = {}  # role id → roleTemplateId
        self._units: dict[str, set[str]] = {}  # unit → direct members
        self._units_of: dict[str, list[str]] = {}
        self._up: dict[str, dict[str, Path]] = {}  # nested group → ancestor → path

    @classmethod
    def build(cls, edits: Iterable[MembershipEdit]) -> EffectiveIndex:
        """The index of a whole tenant at once (a first full sync): no deltas to compare."""
        index = cls()
        for edit in edits:
            index.record(edit)
        index.settle()
        return index

    def record(self, edit: MembershipEdit) -> None:
        """Add one container's members while building a whole tenant piece by piece (as they
        stream from the database); `settle` once every container is recorded."""
        self._record(edit)

    def settle(self) -> None:
        """Work out every nested group's ancestors (the end of a build)."""
        nested = [g for g in self._parents if self._nests(g)]
        ups = {g: self._ancestry(g, expand=self._parents) for g in nested}
        self._up = {g: up for g, up in ups.items() if up}

    @classmethod
    def loaded(cls, part: Neighbourhood) -> EffectiveIndex:
        """An index holding only what a change needs (`Neighbourhood` says what that is)."""
        index = cls()
        for edit in part.groups:
            index._record(edit)
        for principal, parents in part.parents.items():
            index._parents[index._id(principal)] = [index._id(p) for p in parents]
        for principal, units in part.units_of.items():
            index._units_of[index._id(principal)] = [index._id(u) for u in units]
        index._kinds.update(part.kinds)
        index._roles.update(part.roles)
        index._up = {g: dict(up) for g, up in part.ancestors.items() if up}
        return index

    def ancestors(self, group: str) -> Mapping[str, Path]:
        """A nested group's ancestors with their paths (what a change may have to store)."""
        return self._up.get(group, {})

    def closure(self) -> dict[str, Mapping[str, Path]]:
        """Every nested group with its ancestors: what the store keeps for a whole tenant."""
        return dict(self._up)

    # Queries

    def memberships(self, principal_id: str) -> list[Membership]:
        """What `principal_id` is effectively in: groups and roles with paths, then units."""
        found = [Membership(self._container(c), p) for c, p in self._effective(principal_id)]
        units = self._units_of.get(principal_id, ())
        found += [Membership(self._container(u), (u,)) for u in units]
        return sorted(found, key=_by_container)

    def members(self, container_id: str) -> dict[str, Path]:
        """Who is effectively in a group, role or unit: principal id → path."""
        if container_id in self._units:
            return {m: (container_id,) for m in self._units[container_id]}
        best: dict[str, Path] = {}
        level: dict[str, Path] = {container_id: (container_id,)}
        while level:
            below: dict[str, Path] = {}
            for group, path in level.items():
                for member in self._members.get(group, ()):
                    if member != container_id and member not in best:
                        if _better(path, below.get(member)):
                            below[member] = path
            best.update(below)
            level = {m: (*p, m) for m, p in below.items() if m in self._members}
        return best

    def kind(self, principal_id: str) -> MemberType:
        return self._kinds.get(principal_id, "user")

    def everything(self) -> Iterator[EffectiveDelta]:
        """Every principal's memberships as gains from nothing (the first full computation)."""
        for principal in sorted(self._parents.keys() | self._units_of.keys()):
            gained = tuple(self.memberships(principal))
            if gained:
                yield EffectiveDelta(self.kind(principal), principal, gained=gained)

    # Changes

    def apply(self, edits: Iterable[MembershipEdit]) -> list[EffectiveDelta]:
        """Apply edits and return, per principal, exactly the memberships gained and lost."""
        return self.change(edits).deltas

    def change(self, edits: Iterable[MembershipEdit]) -> Changed:
        """Apply edits: the deltas, and the groups whose ancestors were worked out again."""
        edits = [self._canonical(edit) for edit in edits]
        nested = [e for e in edits if e.container_type != "administrativeUnit"]
        changed = [(e.container_id, m) for e in nested for m in self._real_changes(e)]
        unit_changes = self._unit_changes(edits)
        reach = self._reach(m for _, m in changed)
        tops = self._tops(c for c, _ in changed)
        before = {d: self._effective_within(d, tops) for d in reach}
        for edit in edits:
            self._record(edit)
        # A container outside `reach` keeps its ancestors, unless this edit just made it a group.
        edited = {e.container_id for e in nested} - reach
        redone = [g for g in [*edited, *reach] if self._nests(g)]
        for group in redone:  # edited ones first: they end walks from `reach`
            self._set_up(group, self._ancestry(group, expand=reach))
        after = {d: self._effective_within(d, tops) for d in reach}
        deltas = self._deltas(before, after, unit_changes)
        self._forget_idle(reach | {m for _, m in changed})
        return Changed(deltas, {g: self.ancestors(g) for g in redone})

    def remove_object(self, object_id: str) -> list[EffectiveDelta]:
        """Deleting an object drops its edges both ways (restoring it is edits again).

        On a whole index only: with a `Neighbourhood`, pass the same edits (the inventory knows
        the object's groups and members) to `change`."""
        edits = [
            MembershipEdit(self._container(p).type, p, removed=frozenset({object_id}))
            for p in sorted(self._parents.get(object_id, ()))
        ]
        edits += [
            MembershipEdit("administrativeUnit", u, removed=frozenset({object_id}))
            for u in sorted(self._units_of.get(object_id, ()))
        ]
        if object_id in self._members or object_id in self._units:
            kind = self._container(object_id).type
            members = self._members.get(object_id) or self._units.get(object_id) or set()
            edits.append(MembershipEdit(kind, object_id, removed=frozenset(members)))
        deltas = self.apply(edits)
        self._roles.pop(object_id, None)
        self._kinds.pop(object_id, None)
        self._boxes.pop(object_id, None)
        return deltas

    # Internals: edges

    def _id(self, value: str) -> str:
        return self._ids.setdefault(value, value)

    def _canonical(self, edit: MembershipEdit) -> MembershipEdit:
        return MembershipEdit(
            edit.container_type,
            self._id(edit.container_id),
            {self._id(m): kind for m, kind in edit.added.items()},
            frozenset(self._id(m) for m in edit.removed),
            edit.role_template_id,
        )

    def _record(self, edit: MembershipEdit) -> None:
        container = self._id(edit.container_id)
        unit = edit.container_type == "administrativeUnit"
        down, up = (self._units, self._units_of) if unit else (self._members, self._parents)
        self._boxes.pop(container, None)
        if edit.container_type == "directoryRole":
            known = self._roles.get(container)
            self._roles[container] = edit.role_template_id or known
        elif edit.container_type == "group":
            self._kinds[container] = "group"
        members = down.setdefault(container, set())
        for member in edit.removed - edit.added.keys():
            members.discard(member)
            if container in up.get(member, ()):
                up[member].remove(container)
        for member, kind in edit.added.items():
            member = self._id(member)
            self._learn(member, kind)
            members.add(member)
            if container not in up.setdefault(member, []):
                up[member].append(container)
        if not members:
            del down[container]

    def _learn(self, member: str, kind: MemberType) -> None:
        """Remember a member's kind; `unknown` (an older syncer's batch) forgets nothing."""
        if kind == "unknown" and (member in self._parents or member in self._units_of):
            return
        if kind == "user":
            self._kinds.pop(member, None)
        else:
            self._kinds[member] = kind

    def _real_changes(self, edit: MembershipEdit) -> list[str]:
        # From the members' side: a neighbourhood holds their parents, not whole big groups.
        container = edit.container_id
        gone = [m for m in edit.removed - edit.added.keys() if self._holds(container, m)]
        return gone + [m for m in edit.added if not self._holds(container, m)]

    def _holds(self, container: str, member: str) -> bool:
        return container in self._parents.get(member, ()) or container in self._units_of.get(
            member, ()
        )

    def _unit_changes(self, edits: list[MembershipEdit]) -> dict[str, dict[Membership, bool]]:
        """Principal → unit membership → gained (True) or lost (False) by the edits."""
        final: dict[tuple[str, str], bool] = {}
        for edit in edits:
            if edit.container_type == "administrativeUnit":
                unit = edit.container_id
                final.update(((unit, m), False) for m in edit.removed - edit.added.keys())
                final.update(((unit, m), True) for m in edit.added)
        changes: dict[str, dict[Membership, bool]] = {}
        for (unit, member), now_in in final.items():
            if now_in != (unit in self._units_of.get(member, ())):
                entry = Membership(Container("administrativeUnit", unit), (unit,))
                changes.setdefault(member, {})[entry] = now_in
        return changes

    def _forget_idle(self, nodes: Iterable[str]) -> None:
        for node in nodes:
            if not self._parents.get(node):
                self._parents.pop(node, None)
                self._up.pop(node, None)
            if not self._units_of.get(node):
                self._units_of.pop(node, None)

    # Internals: closure

    def _nests(self, node: str) -> bool:
        """Groups (and members of unknown type) may hold others: they store their ancestors."""
        if self._kinds.get(node) in ("group", "unknown"):
            return True
        return node in self._members and node not in self._roles

    def _container(self, container_id: str) -> Container:
        box = self._boxes.get(container_id)
        if box is None:
            if container_id in self._roles:
                box = Container("directoryRole", container_id, self._roles[container_id])
            elif container_id in self._units:
                box = Container("administrativeUnit", container_id)
            else:
                box = Container("group", container_id)
            self._boxes[container_id] = box
        return box

    def _reach(self, members: Iterable[str]) -> set[str]:
        """The members and everything below them (the principals an edit may change)."""
        reach: set[str] = set()
        todo = list(members)
        while todo:
            node = todo.pop()
            if node not in reach:
                reach.add(node)
                todo.extend(self._members.get(node, ()))
        return reach

    def _tops(self, containers: Iterable[str]) -> set[str]:
        """The containers and their ancestors (the containers an edit may change)."""
        tops: set[str] = set()
        for container in containers:
            tops.add(container)
            # From its parents: a group with no members yet has no stored ancestors.
            tops.update(self._effective_within(container, None))
        return tops

    def _ancestry(self, group: str, expand: Collection[str]) -> dict[str, Path]:
        """A group's ancestors with their paths: a walk up through the `expand` nodes; any other
        parent's stored ancestors are exact (an edit never reaches it) and end the walk there."""
        best: dict[str, Path] = {}
        level: dict[str, Path] = {group: ()}
        seen = {group}
        while level:
            above: dict[str, Path] = {}
            for node, below in level.items():
                for parent in self._parents.get(node, ()):
                    path = (parent, *below)
                    if parent in seen:
                        continue
                    if parent in expand:
                        if _better(path, above.get(parent)):
                            above[parent] = path
                        continue
                    _offer(best, parent, path)
                    for ancestor, upper in self._up.get(parent, {}).items():
                        _offer(best, ancestor, upper + path)
            for node, path in above.items():
                _offer(best, node, path)
            seen.update(above)
            level = above
        best.pop(group, None)
        return best

    def _set_up(self, group: str, up: dict[str, Path]) -> None:
        if up:
            self._up[group] = up
        else:
            self._up.pop(group, None)

    def _effective(self, principal: str) -> Iterator[tuple[str, Path]]:
        return iter(self._effective_within(principal, None).items())

    def _effective_within(self, principal: str, tops: Collection[str] | None) -> dict[str, Path]:
        """The principal's groups and roles (those among `tops` only, unless None), from its
        parents and their ancestors; never itself (a cycle)."""
        best: dict[str, Path] = {}
        for parent in self._parents.get(principal, ()):
            if tops is None or parent in tops:
                _offer(best, parent, (parent,))
            for ancestor, upper in self._up.get(parent, {}).items():
                if tops is None or ancestor in tops:
                    _offer(best, ancestor, (*upper, parent))
        best.pop(principal, None)
        return best

    def _deltas(
        self,
        before: Mapping[str, Mapping[str, Path]],
        after: Mapping[str, Mapping[str, Path]],
        units: Mapping[str, Mapping[Membership, bool]],
    ) -> list[EffectiveDelta]:
        deltas = []
        for principal in sorted(before.keys() | units.keys()):
            old, new = before.get(principal, {}), after.get(principal, {})
            gained = [Membership(self._container(c), new[c]) for c in new.keys() - old.keys()]
            lost = [Membership(self._container(c), old[c]) for c in old.keys() - new.keys()]
            for entry, now_in in units.get(principal, {}).items():
                (gained if now_in else lost).append(entry)
            if gained or lost:
                kind = self.kind(principal)
                gained.sort(key=_by_container)
                lost.sort(key=_by_container)
                deltas.append(EffectiveDelta(kind, principal, tuple(gained), tuple(lost)))
        return deltas
