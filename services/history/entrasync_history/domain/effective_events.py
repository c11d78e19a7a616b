"""The `effective_changed` event's data: one principal gained or lost groups, roles or units.

One event per principal and change (not per container): a user added to a group nested in a
role-assignable group that holds Global Administrator gets one event naming the group, the outer
group and the role, each with its path. Its id derives from its content and from what caused it
(the run and the step of the run, e.g. the batch id), like the other change events
(`events.py`): the same change planned twice keeps its id; a genuine repeat (a membership lost
and gained back) comes from another step, so it gets a new one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from entrasync_shared.members import MemberType

from entrasync_history.domain.effective import EffectiveDelta, Membership

MEMBERSHIPS_PER_EVENT = 1000
"""At most this many gained + lost memberships in one event: each costs about 250 bytes of JSON
(its container and a path of up to a handful of ids), so an event stays far below NATS' 1 MB."""


@dataclass(frozen=True)
class EffectiveChanged:
    """The data of one `entrasync.directory.<tenant>.<principal type>.effective_changed` event.

    `gained` carry their new path, `lost` the path they had: container first, then each nested
    group down to the principal's direct parent.
    """

    id: str
    tenant_id: str
    run_id: str
    principal_type: MemberType
    principal_id: str
    gained: tuple[Membership, ...]
    lost: tuple[Membership, ...]


def effective_changed(
    tenant_id: str, run_id: str, step: str, delta: EffectiveDelta
) -> list[EffectiveChanged]:
    """The events of one principal's delta, split in parts when it is very large."""
    return [
        EffectiveChanged(
            id=effective_event_id(tenant_id, run_id, step, part),
            tenant_id=tenant_id,
            run_id=run_id,
            principal_type=part.principal_type,
            principal_id=part.principal_id,
            gained=part.gained,
            lost=part.lost,
        )
        for part in in_parts(delta)
    ]


def effective_event_id(tenant_id: str, run_id: str, step: str, delta: EffectiveDelta) -> str:
    """A hash of the tenant, the cause (run and step) and the delta's content."""
    canonical = json.dumps(
        [
            tenant_id,
            run_id,
            step,
            delta.principal_type,
            delta.principal_id,
            [_plain(m) for m in delta.gained],
            [_plain(m) for m in delta.lost],
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _plain(membership: Membership) -> list[object]:
    container = membership.container
    return [container.type, container.id, container.role_template_id, list(membership.path)]


def in_parts(delta: EffectiveDelta, size: int = MEMBERSHIPS_PER_EVENT) -> list[EffectiveDelta]:
    """`delta` whole, or in consecutive parts of at most `size` memberships (losses first), in
    a fixed order so that planning it again yields the same parts and ids."""
    if len(delta.gained) + len(delta.lost) <= size:
        return [delta]
    entries = [(m, False) for m in delta.lost] + [(m, True) for m in delta.gained]
    parts = []
    for start in range(0, len(entries), size):
        chunk = entries[start : start + size]
        parts.append(
            replace(
                delta,
                gained=tuple(m for m, gain in chunk if gain),
                lost=tuple(m for m, gain in chunk if not gain),
            )
        )
    return parts
