"""Effective membership kept with every commit (docs/effective-membership.md).

A batch or a finish that changes containers' edges loads only what the change reaches (its
`Neighbourhood`: the reach below the edited members, their parents, the stored ancestors
around them), asks the index for the deltas and the ancestors to store again, and hands both to
the commit: the events go to the outbox with the batch's others, the ancestors to
`effective_ancestors`, in the same transaction. A tenant without a stored closure (its first
run, or the first after an upgrade) gets nothing from its batches; its run's finish builds the
whole index from the inventory, stores the closure and publishes the directory roles' members
as the baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from time import perf_counter, process_time

from entrasync_shared.members import MemberType
from entrasync_shared.subjects import Names

from entrasync_history.domain.effective import (
    EffectiveIndex,
    MembershipEdit,
    Neighbourhood,
)
from entrasync_history.domain.effective_plan import (
    ClosureUpdate,
    ContainerEdges,
    effective_events,
    membership_edits,
    role_baseline,
)
from entrasync_history.domain.events import OutgoingEvent
from entrasync_history.domain.model import StoredObject
from entrasync_history.ports import EffectiveReader

log = logging.getLogger(__name__)

FINISH_STEP = "finish"


@dataclass(frozen=True)
class EffectiveWork:
    """What a commit adds for effective membership: events, and the closure to store."""

    events: list[OutgoingEvent] = field(default_factory=list)
    closure: ClosureUpdate | None = None


@dataclass(frozen=True)
class Cause:
    """Which tenant, run and step of the run a change belongs to (the events' ids and data)."""

    names: Names
    tenant_id: str
    run_id: str
    step: str
    now: datetime
    entra_tenant_id: str | None = None
    computed: Callable[[float], None] = field(default=lambda seconds: None, compare=False)
    """Told the wall seconds of a first computation (the composition root's histogram)."""


async def effective_change(
    reader: EffectiveReader,
    cause: Cause,
    before: Iterable[StoredObject],
    writes: Iterable[StoredObject],
    *,
    finish: bool = False,
) -> EffectiveWork:
    """The events and the closure a commit of `writes` (over `before`, as loaded) brings."""
    edits = membership_edits(before, writes)
    if not edits and not finish:
        return EffectiveWork()
    if not await reader.closure_built(cause.tenant_id):
        if not finish:
            return EffectiveWork()  # the run's finish computes it all
        return await first_computation(reader, cause, edits)
    if not edits:
        return EffectiveWork()
    part = await load_neighbourhood(reader, cause.tenant_id, edits)
    changed = EffectiveIndex.loaded(part).change(edits)
    events = effective_events(
        cause.names,
        cause.tenant_id,
        cause.run_id,
        cause.step,
        changed.deltas,
        cause.now,
        cause.entra_tenant_id,
    )
    return EffectiveWork(events, ClosureUpdate(changed.ancestors, frozenset(part.roles)))


async def first_computation(
    reader: EffectiveReader, cause: Cause, edits: list[MembershipEdit]
) -> EffectiveWork:
    """The whole tenant's index from the inventory (streamed container by container), with
    the finish's own `edits` applied; its closure, and its role holders as the baseline.
    Timed (the log line and a histogram): the figure issue 20 bounds at 10 s."""
    # CPU is the whole process's: during the inventory's reads other work may run, but the
    # finish is the last message of its run and history's other partitions are seldom busy.
    began, cpu = perf_counter(), process_time()
    index = EffectiveIndex()
    roles: dict[str, str | None] = {}
    edges = 0
    async for container in reader.every_container(cause.tenant_id):
        edges += len(container.members)
        index.record(container.edit())
        if container.type == "directoryRole":
            roles[container.id] = container.role_template_id
    index.settle()
    index.change(edits)
    for edit in edits:
        if edit.container_type == "directoryRole":
            roles[edit.container_id] = edit.role_template_id or roles.get(edit.container_id)
    deltas = role_baseline(index, roles)
    events = effective_events(
        cause.names,
        cause.tenant_id,
        cause.run_id,
        "baseline",
        deltas,
        cause.now,
        cause.entra_tenant_id,
        baseline=True,
    )
    closure = index.closure()
    wall, cpu = perf_counter() - began, process_time() - cpu
    cause.computed(wall)
    log.info(
        "tenant %s: effective membership computed in %.3f s (%.3f s CPU; %d edges, "
        "%d nested groups, %d role holders)",
        cause.tenant_id,
        wall,
        cpu,
        edges,
        len(closure),
        len(deltas),
    )
    return EffectiveWork(events, ClosureUpdate(closure, frozenset(roles), rebuilt=True))


async def load_neighbourhood(
    reader: EffectiveReader, tenant_id: str, edits: list[MembershipEdit]
) -> Neighbourhood:
    """What `edits` reach, read from the inventory and the stored closure (before the edits)."""
    nested = [e for e in edits if e.container_type != "administrativeUnit"]
    mentioned = {m for e in edits for m in (*e.added, *e.removed)}
    kinds: dict[str, MemberType] = {}
    for edit in edits:
        kinds.update(edit.added)
    groups, reach = await _reach(
        reader, tenant_id, {m for e in nested for m in (*e.added, *e.removed)}
    )
    for group in groups:
        kinds.update(group.members)
        kinds[group.id] = "group"
    nodes = reach | {e.container_id for e in nested}
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    units_of: dict[str, list[str]] = {m: [] for m in mentioned}
    for holder in await reader.holders(tenant_id, nodes | mentioned):
        if holder.type == "group":
            kinds[holder.id] = "group"
        for member, kind in holder.members.items():
            kinds[member] = kind
            if holder.type == "administrativeUnit":
                if member in units_of:
                    units_of[member].append(holder.id)
            elif member in parents:
                parents[member].append(holder.id)
    around = nodes | {p for held in parents.values() for p in held}
    return Neighbourhood(
        groups=tuple(g.edit() for g in groups if g.members),
        parents={n: tuple(sorted(held)) for n, held in parents.items()},
        units_of={m: tuple(sorted(held)) for m, held in units_of.items()},
        kinds={n: k for n, k in kinds.items() if k != "user" and (n in around or n in mentioned)},
        ancestors=await reader.ancestors(tenant_id, around),
        roles=await reader.role_templates(tenant_id),
    )


async def _reach(
    reader: EffectiveReader, tenant_id: str, start: Collection[str]
) -> tuple[list[ContainerEdges], set[str]]:
    """The members and everything below them through groups, level by level; the groups met
    with their members."""
    reach: set[str] = set()
    groups: list[ContainerEdges] = []
    level = set(start)
    while level:
        reach |= level
        found = await reader.groups(tenant_id, level)
        groups += found
        level = {m for group in found for m in group.members} - reach
    return groups, reach
