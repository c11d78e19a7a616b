"""The outbox's documents: a commit's events, kept until the events stream has them.

One document holds up to `CHUNK` events of one commit (one write per batch, not one per
event). Documents go out in `_id` order: the ObjectIds one process makes increase (made here
in the events' order), and a restarted process makes them in a later second. Each envelope is
kept as the JSON that goes on the wire, so a later publish sends the same bytes.

The events are packed into one compressed binary field (`packed`: subject, message id and
envelope of each event, NUL-separated — JSON never holds a raw NUL — then zlib at level 1):
MongoDB then stores, logs and deletes one field of about a fifth of the bytes instead of three
fields per event (`make bench`'s A/B in docs/performance.md). Documents an older version wrote
(`events`: a list of {subject, msg_id, envelope}) are still read.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bson import Binary, ObjectId
from entrasync_shared.messages import CloudEvent

from entrasync_history.domain.events import OutgoingEvent, Pending

SEPARATOR = b"\x00"
LEVEL = 1
"""zlib's fastest level: JSON envelopes shrink about fivefold at a small CPU cost."""

CHUNK = 1000
"""Events per document: a finish's sweep can announce thousands, far below 16 MB this way."""


def outbox_documents(
    tenant_id: str, events: Sequence[OutgoingEvent], now: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "_id": ObjectId(),
            "tenant_id": tenant_id,
            "at": now,
            "count": len(events[start : start + CHUNK]),
            "packed": pack(events[start : start + CHUNK]),
        }
        for start in range(0, len(events), CHUNK)
    ]


def pack(events: Sequence[OutgoingEvent]) -> Binary:
    """The events' subjects, ids and wire JSON, NUL-separated and compressed."""
    parts: list[bytes] = []
    for event in events:
        subject, msg_id = event.subject.encode(), event.msg_id.encode()
        if SEPARATOR in subject or SEPARATOR in msg_id:
            raise ValueError(f"an outbox entry cannot hold NUL: {event.subject!r}")
        parts += (subject, msg_id, event.body)
    return Binary(zlib.compress(SEPARATOR.join(parts), LEVEL))


def unpack(packed: bytes) -> list[OutgoingEvent]:
    parts = zlib.decompress(packed).split(SEPARATOR)
    return [
        _event(parts[i].decode(), parts[i + 1].decode(), parts[i + 2])
        for i in range(0, len(parts), 3)
    ]


def _event(subject: str, msg_id: str, body: bytes) -> OutgoingEvent:
    event = OutgoingEvent(subject, msg_id, CloudEvent[Any].model_validate_json(body))
    event.__dict__["body"] = body  # the bytes committed, not a re-serialisation
    return event


def committed(
    documents: Sequence[Mapping[str, Any]], events: Sequence[OutgoingEvent]
) -> list[Pending]:
    """The entries of `documents`, made from `events` (what the commit was given, in order)."""
    keys = [str(doc["_id"]) for doc in documents for _ in range(doc["count"])]
    return [Pending(key, event) for key, event in zip(keys, events, strict=True)]


def read_back(document: Mapping[str, Any]) -> list[Pending]:
    key = str(document["_id"])
    if "packed" in document:
        return [Pending(key, event) for event in unpack(document["packed"])]
    return [  # written by an earlier version
        Pending(key, _event(entry["subject"], entry["msg_id"], entry["envelope"].encode()))
        for entry in document["events"]
    ]


def document_ids(keys: Sequence[str]) -> list[ObjectId]:
    return [ObjectId(key) for key in sorted(set(keys))]
