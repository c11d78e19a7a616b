"""The outbox's documents: a commit's events, kept until the events stream has them.

One document holds up to `CHUNK` events of one commit (one write per batch, not one per
event). Documents go out in `_id` order: the ObjectIds one process makes increase (made here
in the events' order), and a restarted process makes them in a later second. Each envelope is
kept as the JSON that goes on the wire, so a later publish sends the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from entrasync_shared.messages import CloudEvent

from entrasync_history.domain.events import OutgoingEvent, Pending

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
            "events": [
                {
                    "subject": event.subject,
                    "msg_id": event.msg_id,
                    "envelope": event.body.decode(),
                }
                for event in events[start : start + CHUNK]
            ],
        }
        for start in range(0, len(events), CHUNK)
    ]


def committed(
    documents: Sequence[Mapping[str, Any]], events: Sequence[OutgoingEvent]
) -> list[Pending]:
    """The entries of `documents`, made from `events` (what the commit was given, in order)."""
    keys = [str(doc["_id"]) for doc in documents for _ in doc["events"]]
    return [Pending(key, event) for key, event in zip(keys, events, strict=True)]


def read_back(document: Mapping[str, Any]) -> list[Pending]:
    key = str(document["_id"])
    return [
        Pending(
            key,
            OutgoingEvent(
                entry["subject"],
                entry["msg_id"],
                CloudEvent[Any].model_validate_json(entry["envelope"]),
            ),
        )
        for entry in document["events"]
    ]


def document_ids(keys: Sequence[str]) -> list[ObjectId]:
    return [ObjectId(key) for key in sorted(set(keys))]
