"""Public change events: CloudEvents envelopes with ids stable across redeliveries.

An event id is a hash of where the change was decided (a batch id, or a run's finish), the
object id and the change kind. It is also the `Nats-Msg-Id`, so a redelivered batch, which
recomputes the same changes from the same stored state, never yields a second event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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

from entrasync_history.domain.model import Change


@dataclass(frozen=True)
class OutgoingEvent:
    """A CloudEvent ready to publish: subject, dedupe id and envelope."""

    subject: str
    msg_id: str
    envelope: CloudEvent[Any]


def event_id(origin: str, object_id: str, kind: str) -> str:
    return hashlib.sha256(f"{origin}\x1f{object_id}\x1f{kind}".encode()).hexdigest()[:32]


def finish_origin(run_id: str) -> str:
    """Origin of the changes a run's finish decides (deletions, dropped members)."""
    return f"{run_id}:finish"


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
        reason = "not_seen_by_full_scan" if change.soft is None else "removed"
        return ObjectDeleted(**common, soft=change.soft, reason=reason)
    return MembersChanged(**common, added=change.added, removed=change.removed)


def change_event(
    names: Names,
    tenant_id: str,
    run_id: str,
    origin: str,
    change: Change,
    now: datetime,
    entra_tenant_id: str | None = None,
) -> OutgoingEvent:
    msg_id = event_id(origin, change.object_id, change.kind)
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
