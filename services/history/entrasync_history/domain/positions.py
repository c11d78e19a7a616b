"""The order of observations: which of two sightings of an object is the newer one.

A batch's position is (its attempt's start, attempt, seq). The syncer takes `started_at` when an
attempt of a run begins, after it took the tenant's lease, and numbers the attempt's batches of
one type 0, 1, 2, ... in the order Graph returned them. One run per tenant at a time (the lease)
means a later attempt, of the same run or of a later one, starts after the earlier one ended:
positions of one tenant and type grow without the syncer replicas agreeing on anything. Neither
the run id nor the command's time slot would do: a command redelivered after a later run read
Graph reads newer state than that run, though its slot is older.

The clocks of syncer replicas only meet at attempt boundaries, so they may differ by less than
the time between the start of one attempt and the start of the next (at least the earlier
attempt's whole duration; seconds, against NTP's milliseconds).

Each inventory object keeps the position of the newest batch that observed or removed it. A
batch older than that for an object is stale for it: redelivered late, after newer batches of
the same object were applied, it must not write its old state on top of the newer one. Within
one attempt, a later page may list a group again with more of its member slices (or a big group
cut into several batches): an earlier piece arriving late still brings its members, not its
(older) attributes, and never brings a deleted object back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from entrasync_shared.messages import ObservationBatch

if TYPE_CHECKING:
    from collections.abc import Mapping

    from entrasync_history.domain.model import StoredObject

SEQ_END = 2**62
"""Past every batch's seq: a run's finish decides after all of its attempt's batches."""


@dataclass(frozen=True, order=True)
class Position:
    """Where an observation stands among the observations of one tenant and type."""

    started_at: datetime
    attempt: int
    seq: int

    def same_attempt(self, other: Position) -> bool:
        return (self.started_at, self.attempt) == (other.started_at, other.attempt)


def batch_position(batch: ObservationBatch) -> Position | None:
    """The batch's position; None for batches of syncers that predate positions (unordered)."""
    if batch.started_at is None:
        return None
    return Position(_utc(batch.started_at), batch.attempt, batch.seq)


def finish_position(started_at: datetime, attempt: int) -> Position:
    """The position of what a run's finish decides: after every batch of its attempt."""
    return Position(_utc(started_at), attempt, SEQ_END)


def newest(stored: Position | None, seen: Position | None) -> Position | None:
    if stored is None or seen is None:
        return seen or stored
    return max(stored, seen)


def fresh_part(batch: ObservationBatch, stored: Mapping[str, StoredObject]) -> ObservationBatch:
    """The batch without what is stale for the objects as stored (keyed by object id).

    An observation older than its object's position is dropped, except an earlier piece of the
    same attempt for a live object: its member slices apply, with the stored attributes.
    A removal older than its object's position is dropped.
    """
    seen_at = batch_position(batch)
    if seen_at is None:
        return batch
    objects = []
    for seen in batch.objects:
        current = stored.get(seen.id)
        position = current.position if current is not None else None
        if position is None or position <= seen_at:
            objects.append(seen)
        elif current is not None and current.live and position.same_attempt(seen_at):
            objects.append(seen.model_copy(update={"attributes": dict(current.attributes)}))
    removals = [
        removal
        for removal in batch.removals
        if (current := stored.get(removal.id)) is None
        or current.position is None
        or current.position <= seen_at
    ]
    if len(objects) == len(batch.objects) and len(removals) == len(batch.removals):
        if all(a is b for a, b in zip(objects, batch.objects, strict=True)):
            return batch
    return batch.model_copy(update={"objects": tuple(objects), "removals": tuple(removals)})


def _utc(value: datetime) -> datetime:
    """In UTC and to the millisecond, as MongoDB stores it: a stored position equals its batch's."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)
