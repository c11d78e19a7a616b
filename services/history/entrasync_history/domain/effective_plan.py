"""Effective membership in history's pipeline: which edges a commit changes, the events it
publishes and the closure it stores (docs/effective-membership.md).

Edges are the inventory's: a live container's `members` (its live members). A deleted container
holds no edges, whatever its document keeps for a restore; a hidden member (soft-deleted, or not
live yet) is no edge either. So the edits of a commit are the difference between the edges of
each container it writes, before and after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from entrasync_shared.members import MemberType
from entrasync_shared.messages import (
    CloudEvent,
    EffectiveChanged,
    EffectiveMembershipChange,
    event_type,
    tenant_source,
)
from entrasync_shared.subjects import CONTAINER_TYPES, ContainerType, Names

from entrasync_history.domain.effective import (
    Container,
    EffectiveDelta,
    EffectiveIndex,
    Membership,
    MembershipEdit,
    Path,
)
from entrasync_history.domain.effective_events import effective_changed
from entrasync_history.domain.events import OutgoingEvent
from entrasync_history.domain.model import StoredObject

ROLE_TEMPLATE = "roleTemplateId"
EFFECTIVE_CHANGED = "effective_changed"


@dataclass(frozen=True)
class ContainerEdges:
    """A live container and (some of) its members, as the inventory holds them."""

    type: ContainerType
    id: str
    members: Mapping[str, MemberType] = field(default_factory=dict)
    role_template_id: str | None = None
    display_name: str | None = None

    def edit(self) -> MembershipEdit:
        """Its members as an edit that adds them all (loading an index)."""
        return MembershipEdit(
            self.type, self.id, dict(self.members), role_template_id=self.role_template_id
        )


@dataclass(frozen=True)
class ClosureUpdate:
    """Nested groups' ancestors to store (an empty mapping: the group has none any more);
    `roles` tells which ancestors are directory roles; `rebuilt`: the whole tenant's closure,
    replacing whatever was stored, and from now on kept up to date."""

    ancestors: Mapping[str, Mapping[str, Path]]
    roles: frozenset[str] = frozenset()
    rebuilt: bool = False


def container_edges(obj: StoredObject) -> dict[str, MemberType]:
    """A container's edges: its live members when it is live, none when it is deleted."""
    if obj.object_type not in CONTAINER_TYPES or not obj.live:
        return {}
    return {member: obj.member_type(member) for member in obj.members}


def role_template(obj: StoredObject) -> str | None:
    value = obj.attributes.get(ROLE_TEMPLATE) if obj.object_type == "directoryRole" else None
    return value if isinstance(value, str) else None


def membership_edits(
    before: Iterable[StoredObject], after: Iterable[StoredObject]
) -> list[MembershipEdit]:
    """The edges each written container gained and lost (`before`: the objects as loaded)."""
    old = {(o.object_type, o.object_id): o for o in before}
    new = {(o.object_type, o.object_id): o for o in after if o.object_type in CONTAINER_TYPES}
    edits = []
    for key_, obj in sorted(new.items()):
        was = old.get(key_)
        then = container_edges(was) if was is not None else {}
        now = container_edges(obj)
        added = {m: kind for m, kind in sorted(now.items()) if m not in then}
        removed = frozenset(then.keys() - now.keys())
        if added or removed:
            kind: ContainerType = obj.object_type  # type: ignore[assignment]
            edits.append(MembershipEdit(kind, obj.object_id, added, removed, role_template(obj)))
    return edits


def role_baseline(index: EffectiveIndex, roles: Mapping[str, str | None]) -> list[EffectiveDelta]:
    """Every principal holding a directory role, directly or through groups, with its roles as
    gains: the first computation's events (option (b) of the design note)."""
    held: dict[str, list[Membership]] = {}
    for role in sorted(roles):
        box = Container("directoryRole", role, roles[role])
        for principal, path in index.members(role).items():
            held.setdefault(principal, []).append(Membership(box, path))
    return [
        EffectiveDelta(index.kind(principal), principal, gained=tuple(sorted(found)))
        for principal, found in sorted(held.items())
    ]


def _change(membership: Membership) -> EffectiveMembershipChange:
    return EffectiveMembershipChange(
        container_type=membership.container.type,
        container_id=membership.container.id,
        role_template_id=membership.container.role_template_id,
        path=membership.path,
    )


def effective_events(
    names: Names,
    tenant_id: str,
    run_id: str,
    step: str,
    deltas: Iterable[EffectiveDelta],
    now: datetime,
    entra_tenant_id: str | None = None,
    *,
    baseline: bool = False,
) -> list[OutgoingEvent]:
    """One `effective_changed` event per principal (in parts when very large); `step` names
    the cause within the run (the batch id, the finish), for the ids."""
    events = []
    for delta in deltas:
        for part in effective_changed(tenant_id, run_id, step, delta):
            data = EffectiveChanged(
                tenant_id=tenant_id,
                run_id=run_id,
                principal_type=part.principal_type,
                principal_id=part.principal_id,
                gained=tuple(_change(m) for m in part.gained),
                lost=tuple(_change(m) for m in part.lost),
                baseline=baseline,
            )
            envelope: CloudEvent[Any] = CloudEvent[Any](
                id=part.id,
                source=tenant_source(tenant_id),
                type=event_type(part.principal_type, EFFECTIVE_CHANGED),
                subject=part.principal_id,
                time=now,
                entratenantid=entra_tenant_id,
                data=data,
            )
            subject = names.effective_changed(tenant_id, part.principal_type)
            events.append(OutgoingEvent(subject, part.id, envelope))
    return events
