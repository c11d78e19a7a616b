"""A big membership change leaves history as several `members_changed` events, each under NATS'
message limit (found by `make bench`: a 20,000-member group's first full scan produced a 2 MB
event, every delivery failed with MaxPayloadError, and the batch was parked)."""

from __future__ import annotations

from datetime import UTC, datetime

from entrasync_history.domain.events import MEMBERS_PER_EVENT, announce, in_parts
from entrasync_history.domain.model import Change
from entrasync_history.domain.plans import Plan
from entrasync_shared.subjects import Names

NATS_MAX_PAYLOAD = 1024 * 1024
T0 = datetime(2027, 1, 1, tzinfo=UTC)


def big_change(added: int, removed: int) -> Change:
    ids = [f"{n:08d}-0000-4000-8000-000000000000" for n in range(added + removed)]
    return Change(
        kind="members_changed",
        object_type="group",
        object_id="g1",
        added=tuple(ids[:added]),
        added_types=("user",) * added,
        removed=tuple(ids[added:]),
        removed_types=("servicePrincipal",) * removed,
    )


def test_a_big_membership_change_is_published_in_parts_under_the_message_limit() -> None:
    change = big_change(added=20_000, removed=500)
    events, _ = announce(Names(), "t1", "r1", Plan(changes=(change,), writes=()), T0)
    assert len(events) == 6  # 20,500 members, 4,000 per event
    for event in events:
        assert len(event.envelope.model_dump_json().encode()) < NATS_MAX_PAYLOAD / 2
    assert len({event.msg_id for event in events}) == len(events)
    again, _ = announce(Names(), "t1", "r1", Plan(changes=(change,), writes=()), T0)
    assert [e.msg_id for e in again] == [e.msg_id for e in events]  # a redelivery: same ids


def test_the_parts_applied_in_order_make_the_whole_change() -> None:
    change = big_change(added=9_000, removed=4_100)
    parts = in_parts(change)
    assert all(len(p.added) + len(p.removed) <= MEMBERS_PER_EVENT for p in parts)
    assert sum((p.added for p in parts), ()) == change.added
    assert sum((p.removed for p in parts), ()) == change.removed
    assert all(len(p.added_types) == len(p.added) for p in parts)
    assert in_parts(big_change(added=10, removed=2)) == [big_change(added=10, removed=2)]
