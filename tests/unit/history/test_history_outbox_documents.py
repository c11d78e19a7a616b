"""The outbox's documents: a commit's events packed into one compressed field, read back as the
same subjects, ids and wire bytes; documents of the earlier layout (a list of events) still read;
a commit's events split over documents of at most CHUNK events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import bson
import pytest
from entrasync_history.adapters.outbox import (
    CHUNK,
    committed,
    outbox_documents,
    read_back,
)
from entrasync_history.domain.events import OutgoingEvent
from entrasync_shared.messages import CloudEvent

AT = datetime(2027, 1, 1, tzinfo=UTC)


def event(n: int, name: str = "Ann") -> OutgoingEvent:
    envelope = CloudEvent[Any](
        id=f"id{n}",
        source="/tenants/t1",
        type="com.entrasync.directory.user.created",
        subject=f"u{n}",
        time=AT,
        data={"object_id": f"u{n}", "attributes": {"displayName": f"{name} {n}", "ü": "\u0000"}},
    )
    return OutgoingEvent(f"es.entrasync.directory.t1.user.created.{n}", f"id{n}", envelope)


def through_mongo(document: dict[str, Any]) -> dict[str, Any]:
    """What MongoDB gives back: the document as BSON and decoded again."""
    return bson.decode(bson.encode(document))


def test_a_commits_events_read_back_as_the_same_subjects_ids_and_bytes() -> None:
    events = [event(n) for n in range(5)]
    [document] = outbox_documents("t1", events, AT)
    back = read_back(through_mongo(document))
    assert [(e.event.subject, e.event.msg_id, e.event.body) for e in back] == [
        (e.subject, e.msg_id, e.body) for e in events
    ]
    assert {e.key for e in back} == {str(document["_id"])}
    assert back[0].event.envelope.data["attributes"]["ü"] == "\u0000"  # escaped in JSON


def test_the_packed_document_is_smaller_than_its_events() -> None:
    events = [event(n, name="Same Name Repeated Often") for n in range(CHUNK)]
    [document] = outbox_documents("t1", events, AT)
    raw = sum(len(e.body) for e in events)
    assert len(bson.encode(document)) < raw / 3


def test_a_big_commit_spreads_over_documents_of_chunk_events_in_order() -> None:
    events = [event(n) for n in range(2 * CHUNK + 5)]
    documents = outbox_documents("t1", events, AT)
    assert [d["count"] for d in documents] == [CHUNK, CHUNK, 5]
    assert [d["_id"] for d in documents] == sorted(d["_id"] for d in documents)
    entries = committed(documents, events)
    assert [e.event for e in entries] == events
    back = [e for d in documents for e in read_back(through_mongo(d))]
    assert [(e.key, e.event.msg_id) for e in back] == [(e.key, e.event.msg_id) for e in entries]


def test_a_document_an_earlier_version_wrote_still_reads() -> None:
    events = [event(n) for n in range(3)]
    document = {
        "_id": bson.ObjectId(),
        "tenant_id": "t1",
        "at": AT,
        "events": [
            {"subject": e.subject, "msg_id": e.msg_id, "envelope": e.body.decode()} for e in events
        ],
    }
    back = read_back(through_mongo(document))
    assert [(e.event.subject, e.event.msg_id, e.event.body) for e in back] == [
        (e.subject, e.msg_id, e.body) for e in events
    ]


def test_an_entry_whose_subject_holds_nul_is_refused() -> None:
    bad = OutgoingEvent("es.bad\x00subject", "id", event(1).envelope)
    with pytest.raises(ValueError, match="NUL"):
        outbox_documents("t1", [bad], AT)
