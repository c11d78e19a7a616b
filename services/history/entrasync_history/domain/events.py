"""Public change events: CloudEvents envelopes whose ids derive from the change itself.

An event id is a hash of the tenant, the object, the object's revision (how many public changes
were committed for it before) and the change (its kind and content: the attributes it sets, the
members it adds and removes, ...), never of the batch or run that carried it. It is also the
`Nats-Msg-Id`. history commits a change's events to an outbox in the transaction that commits
the change, and publishes them from there afterwards: an event exists only for a committed
change, and a crash after the commit publishes the very same events later (the events stream's
duplicate window, `Names.streams`, 10 minutes, drops a copy already stored). Another attempt's
batch covering the same objects finds the change committed and plans nothing. A replay later
than the window still carries the same id, for consumers to drop. A change that genuinely
repeats (a member removed and added back) starts from a newer revision: a new id.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from entrasync_shared.members import MemberRef, MemberType
from entrasync_shared.messages import (
    CloudEvent,
    MembersChanged,
    ObjectCreated,
    ObjectDeleted,
    ObjectUpdated,
    SyncRecorded,
    event_type,
    sync_recorded_event,
    tenant_source,
)
from entrasync_shared.subjects import Names
from pydantic import BaseModel
from pydantic_core import to_json

from entrasync_history.domain.model import Change, StoredObject
from entrasync_history.domain.plans import Plan, key


@dataclass(frozen=True)
class OutgoingEvent:
    """A CloudEvent ready to publish: subject, dedupe id and envelope."""

    subject: str
    msg_id: str
    envelope: CloudEvent[Any]

    @functools.cached_property
    def body(self) -> bytes:
        """The envelope's JSON, made once: the outbox stores it and the stream gets it."""
        return to_json(self.envelope)


@dataclass(frozen=True)
class Pending:
    """An event committed to the outbox and not yet known to be on the stream; `key` names its
    outbox entry."""

    key: str
    event: OutgoingEvent


def event_id(tenant_id: str, change: Change, revision: int) -> str:
    """The id of `change` made to an object at `revision` (its committed changes so far)."""
    # The fields as they are: `dataclasses.asdict` would deep-copy the attributes first (a
    # tenth of history's CPU on a full scan) for the same JSON.
    fields_ = {name: getattr(change, name) for name in _CHANGE_FIELDS}
    canonical = json.dumps(
        [tenant_id, revision, fields_],
        sort_keys=True,
        separators=(",", ":"),
        default=_canonical,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


_CHANGE_FIELDS = tuple(f.name for f in fields(Change))


def _canonical(value: object) -> object:
    """Sets in sorted order: a set's own order changes with each process's hash seed."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def announce(
    names: Names,
    tenant_id: str,
    run_id: str,
    plan: Plan,
    now: datetime,
    entra_tenant_id: str | None = None,
) -> tuple[list[OutgoingEvent], tuple[StoredObject, ...]]:
    """The plan's events, and its writes with the revision of each changed object advanced."""
    before = {key(obj): obj.revision for obj in plan.writes}
    events = [
        change_event(
            names,
            tenant_id,
            run_id,
            part,
            now,
            entra_tenant_id,
            revision=before.get((change.object_type, change.object_id), 0),
        )
        for change in plan.changes
        for part in in_parts(change)
    ]
    changed = {(change.object_type, change.object_id) for change in plan.changes}
    writes = tuple(
        replace(obj, revision=obj.revision + 1) if key(obj) in changed else obj
        for obj in plan.writes
    )
    return events, writes


MEMBERS_PER_EVENT = 4000
"""At most this many members (added + removed) in one `members_changed` event: each costs about
120 bytes of JSON (its id in `added`, its typed reference in `added_members`), so an event stays
near 500 KB, under NATS' default 1 MB message limit, however big the group's change."""


def in_parts(change: Change, size: int = MEMBERS_PER_EVENT) -> list[Change]:
    """`change` as one change, or — a membership change of more than `size` members — as
    consecutive parts of at most `size` members each (removals first), in a fixed order so a
    redelivery yields the same parts and ids. Applied one after another they make the change."""
    if change.kind != "members_changed" or len(change.added) + len(change.removed) <= size:
        return [change]
    members = [(m, t, True) for m, t in zip(change.removed, change.removed_types, strict=True)]
    members += [(m, t, False) for m, t in zip(change.added, change.added_types, strict=True)]
    parts = []
    for start in range(0, len(members), size):
        chunk = members[start : start + size]
        removed = [(m, t) for m, t, gone in chunk if gone]
        added = [(m, t) for m, t, gone in chunk if not gone]
        parts.append(
            replace(
                change,
                added=tuple(m for m, _ in added),
                added_types=tuple(t for _, t in added),
                removed=tuple(m for m, _ in removed),
                removed_types=tuple(t for _, t in removed),
            )
        )
    return parts


def change_data(tenant_id: str, run_id: str, change: Change) -> BaseModel:
    common: dict[str, Any] = {
        "tenant_id": tenant_id,
        "object_type": change.object_type,
        "object_id": change.object_id,
        "run_id": run_id,
    }
    if change.kind == "created":
        return ObjectCreated(**common, attributes=dict(change.attributes))
    if change.kind == "updated":
        return ObjectUpdated(**common, changed=dict(change.attributes), restored=change.restored)
    if change.kind == "deleted":
        # Only a full scan's sweep leaves it unknown whether the object is restorable.
        return ObjectDeleted(
            **common,
            soft=change.soft,
            reason="not_seen_by_full_scan" if change.soft is None else "removed",
        )
    return MembersChanged(
        **common,
        added=change.added,
        removed=change.removed,
        added_members=member_refs(change.added, change.added_types),
        removed_members=member_refs(change.removed, change.removed_types),
    )


def member_refs(ids: tuple[str, ...], types: tuple[MemberType, ...]) -> tuple[MemberRef, ...]:
    return tuple(MemberRef(type=kind, id=m) for m, kind in zip(ids, types, strict=True))


def change_event(
    names: Names,
    tenant_id: str,
    run_id: str,
    change: Change,
    now: datetime,
    entra_tenant_id: str | None = None,
    revision: int = 0,
) -> OutgoingEvent:
    msg_id = event_id(tenant_id, change, revision)
    envelope: CloudEvent[Any] = CloudEvent[Any](
        id=msg_id,
        source=tenant_source(tenant_id),
        type=event_type(change.object_type, change.kind),
        subject=change.object_id,
        time=now,
        entratenantid=entra_tenant_id,
        data=change_data(tenant_id, run_id, change),
    )
    subject = names.directory_event(tenant_id, change.object_type, change.kind)
    return OutgoingEvent(subject, msg_id, envelope)


def recorded_event(names: Names, recorded: SyncRecorded) -> OutgoingEvent:
    envelope = sync_recorded_event(recorded)
    return OutgoingEvent(names.sync_recorded(recorded.tenant_id), envelope.id, envelope)
