"""history's metrics: what its publisher got onto the stream counts as directory events by type
and change, runs recorded by mode and status (also for an event read back from the outbox as
JSON) and kit publishes per flow; a batch apply is timed by object type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from entrasync_history.adapters import metrics
from entrasync_history.domain.events import OutgoingEvent, recorded_event
from entrasync_shared.messages import CloudEvent, SyncRecorded
from entrasync_shared.subjects import Names
from prometheus_client import REGISTRY

NAMES = Names("hm")
AT = datetime(2027, 1, 1, tzinfo=UTC)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def recorded(run_id: str, status: str) -> OutgoingEvent:
    return recorded_event(
        NAMES,
        SyncRecorded.model_validate(
            {
                "tenant_id": "t1",
                "run_id": run_id,
                "mode": "delta",
                "reason": "schedule",
                "status": status,
                "started_at": AT,
                "finished_at": AT,
                "types": [],
            }
        ),
    )


def from_outbox(event: OutgoingEvent) -> OutgoingEvent:
    envelope = CloudEvent[Any].model_validate_json(event.envelope.model_dump_json())
    return OutgoingEvent(event.subject, event.msg_id, envelope)


def on(subject: str, event: OutgoingEvent) -> OutgoingEvent:
    return OutgoingEvent(subject, event.msg_id, event.envelope)


def test_published_events_count_by_type_change_and_run_status() -> None:
    some = recorded("r0", "Succeeded")
    events = [
        on(NAMES.directory_event("t1", "group", "members_changed"), some),
        on(NAMES.directory_event("t2", "group", "members_changed"), some),
        on(NAMES.directory_event("t1", "user", "deleted"), some),
        recorded("r1", "Failed"),
        from_outbox(recorded("r2", "Failed")),
    ]
    changed = "entrasync_history_events_published_total"
    runs = "entrasync_history_runs_recorded_total"
    flows = "entrasync_messages_published_total"
    before = (
        sample(changed, object_type="group", change="members_changed"),
        sample(changed, object_type="user", change="deleted"),
        sample(runs, mode="delta", status="Failed"),
        sample(flows, service="history", flow="directory_members_changed"),
        sample(flows, service="history", flow="syncRecorded"),
    )

    metrics.events_published(NAMES, events)

    after = (
        sample(changed, object_type="group", change="members_changed"),
        sample(changed, object_type="user", change="deleted"),
        sample(runs, mode="delta", status="Failed"),
        sample(flows, service="history", flow="directory_members_changed"),
        sample(flows, service="history", flow="syncRecorded"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 2, 2, 2]


def test_a_batch_apply_is_timed_by_object_type_even_when_it_fails() -> None:
    count = "entrasync_history_batch_apply_seconds_count"
    before = sample(count, object_type="device")

    with metrics.applying("device"):
        pass
    try:
        with metrics.applying("device"):
            raise ConnectionError("mongod is gone")
    except ConnectionError:
        pass

    assert sample(count, object_type="device") == before + 2
