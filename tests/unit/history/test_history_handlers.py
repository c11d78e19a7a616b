"""The pipeline and tenant-deleted consumers' ack decisions, driven through the kit with a
stand-in message (no broker)."""

import json
from collections.abc import Sequence

import pytest
from entrasync_history.domain.events import OutgoingEvent
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.entrypoints.api import health
from entrasync_history.entrypoints.deps import Deps
from entrasync_history.entrypoints.pipeline import parse_pipeline, pipeline
from entrasync_history.entrypoints.tenant_deleted import tenant_deleted
from entrasync_history.usecases import finishes
from entrasync_history.usecases.pipeline import Context
from entrasync_shared.catalog import NoArguments
from entrasync_shared.messages import TenantDeleted
from entrasync_shared.subjects import Names
from history_fakes import (
    T0,
    TENANT,
    FakeDeadLetters,
    FakeEventPublisher,
    FakeHistoryQueries,
    FakeHistoryStore,
    FakeJsMessage,
    batch,
    deliver_to,
    finished,
    obj,
    started,
)

NAMES = Names("p")


class BrokenPublisher(FakeEventPublisher):
    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        raise ConnectionError("nats is gone")


def make_deps(publisher: FakeEventPublisher | None = None) -> Deps:
    store = FakeHistoryStore()
    ctx = Context(store, publisher or FakeEventPublisher(), NAMES, GuardrailPolicy(), 2)
    return Deps(
        NAMES,
        ctx,
        store,
        FakeHistoryQueries(),
        FakeDeadLetters(),
        retry_delay=2.0,
        finish_wait=0.5,
    )


def observed_message(deliveries: int = 1) -> FakeJsMessage:
    payload = batch("r1", "user", 0, [obj("u1")], mode="delta").model_dump_json().encode()
    return FakeJsMessage(NAMES.observed(TENANT, "user"), payload, deliveries)


async def test_an_applied_batch_is_acked() -> None:
    deps = make_deps()
    msg = observed_message()
    await deliver_to(pipeline, deps, msg)
    assert msg.decision == ("ack", None)
    assert deps.stats.applied == 1


async def test_a_malformed_message_is_parked_then_acked() -> None:
    deps = make_deps()
    msg = FakeJsMessage(NAMES.observed(TENANT, "user"), b"{")
    await deliver_to(pipeline, deps, msg)
    assert msg.decision == ("ack", None)
    assert isinstance(deps.dead_letters, FakeDeadLetters)
    [(payload, subject, reason, dedupe_id)] = deps.dead_letters.parked
    assert (payload, subject, dedupe_id) == (
        b"{",
        NAMES.observed(TENANT, "user"),
        "history:pipeline-0:7",
    )
    assert reason.startswith("not a ObservationBatch")
    assert deps.stats.dead_lettered == 1


async def test_a_transient_failure_is_nacked_with_a_delay() -> None:
    deps = make_deps(BrokenPublisher())
    msg = observed_message()
    await deliver_to(pipeline, deps, msg)
    assert msg.decision == ("nack", 2.0)
    assert deps.stats.retried == 1


async def test_a_finish_ahead_of_its_batches_is_held_then_recorded_by_its_batch() -> None:
    # Acked and held, not nakked: a nak would keep the durable's only unacked slot
    # (max_ack_pending=1) and hold back the batch behind it.
    deps = make_deps()
    payload = finished("r1", {"user": 1}).model_dump_json().encode()
    msg = FakeJsMessage(NAMES.run_event(TENANT, "finished"), payload)
    await deliver_to(pipeline, deps, msg)
    assert msg.decision == ("ack", None) and deps.stats.recorded == 0
    store = deps.ctx.store
    assert isinstance(store, FakeHistoryStore) and list(store.held) == ["r1"]

    await deliver_to(pipeline, deps, observed_message())

    assert deps.stats.recorded == 1 and store.held == {} and "r1" in store.runs


async def test_a_held_finish_records_its_missing_types_failed_after_the_waits() -> None:
    deps = make_deps()  # finish_max_waits=2
    payload = finished("r1", {"user": 1}).model_dump_json().encode()
    await deliver_to(pipeline, deps, FakeJsMessage(NAMES.run_event(TENANT, "finished"), payload))
    store = deps.ctx.store
    assert isinstance(store, FakeHistoryStore)

    assert await finishes.retry_held(deps.ctx, T0, waited=True) != []

    [counts] = store.runs["r1"].types
    assert (counts.status, counts.error) == ("Failed", "only 0 of 1 batches were applied")
    assert store.held == {}


@pytest.mark.parametrize(
    ("subject", "payload", "reason"),
    [
        ("p.entrasync.sync.observed.other-tenant.user", None, "batch for tenant-1/user"),
        ("p.entrasync.sync.observed.tenant-1.printer", None, "unexpected subject"),
        ("p.entrasync.sync.run.tenant-1.paused", b"{}", "unexpected subject"),
    ],
)
def test_messages_that_do_not_match_their_subject_are_malformed(
    subject: str, payload: bytes | None, reason: str
) -> None:
    body = payload or batch("r1", "user", 0).model_dump_json().encode()
    with pytest.raises(Exception, match=reason):
        parse_pipeline(NAMES, subject, body)


async def test_health_reports_the_counters() -> None:
    deps = make_deps()
    result = await health(NoArguments(), deps)
    assert result.ok
    assert result.details["dead_lettered"] == "0"


async def test_a_tenant_deletion_cancels_its_runs_and_a_purge_erases_it() -> None:
    deps = make_deps()
    store = deps.ctx.store
    assert isinstance(store, FakeHistoryStore)
    start = FakeJsMessage(NAMES.run_event(TENANT, "started"), started_payload())
    await deliver_to(pipeline, deps, start)
    msg = FakeJsMessage(NAMES.tenant_event("deleted"), b'{"tenant_id": "tenant-1"}')
    await deliver_to(tenant_deleted, deps, msg)
    assert msg.decision == ("ack", None) and list(store.cancelled) == ["r1"]
    purge = b'{"tenant_id": "tenant-1", "purge_history": true}'
    purging = FakeJsMessage(NAMES.tenant_event("deleted"), purge)
    await deliver_to(tenant_deleted, deps, purging)
    assert store.started == {} and store.cancelled == {}


async def test_an_unreadable_tenant_deletion_is_parked() -> None:
    deps = make_deps()
    msg = FakeJsMessage(NAMES.tenant_event("deleted"), b'{"purge_history": true}', seq=3)
    await deliver_to(tenant_deleted, deps, msg)
    assert msg.decision == ("ack", None)
    assert isinstance(deps.dead_letters, FakeDeadLetters)
    [(_, _, reason, dedupe_id)] = deps.dead_letters.parked
    assert dedupe_id == "history:tenant-deleted:3" and "tenant_id" in reason


def started_payload() -> bytes:
    return started("r1").model_dump_json().encode()


class BrokenStore(FakeHistoryStore):
    """A store whose writes fail the same way every time (as an unforeseen bug would)."""

    async def is_applied(self, batch_id: str) -> bool:
        raise KeyError("attributes")


def make_deps_with(store: FakeHistoryStore, publisher: FakeEventPublisher | None = None) -> Deps:
    ctx = Context(store, publisher or FakeEventPublisher(), NAMES, GuardrailPolicy(), 2)
    return Deps(
        NAMES,
        ctx,
        store,
        FakeHistoryQueries(),
        FakeDeadLetters(),
        retry_delay=2.0,
        finish_wait=0.5,
        max_failed_deliveries=3,
    )


async def test_a_batch_mongodb_cannot_store_is_parked_at_once_and_publishes_nothing() -> None:
    publisher = FakeEventPublisher()
    deps = make_deps_with(FakeHistoryStore(), publisher)
    poison = batch("r1", "user", 0, [obj("u1", **{"a\x00b": 1})])
    msg = FakeJsMessage(NAMES.observed(TENANT, "user"), poison.model_dump_json().encode())

    await deliver_to(pipeline, deps, msg)

    assert msg.decision == ("ack", None) and deps.stats.dead_lettered == 1
    assert isinstance(deps.dead_letters, FakeDeadLetters)
    [(_, _, reason, _)] = deps.dead_letters.parked
    assert reason == "cannot be stored: object 'u1': attributes key 'a\\x00b' holds a NUL character"
    assert publisher.events == []


def test_a_run_event_with_a_number_beyond_64_bits_is_malformed() -> None:
    payload = finished("r1", {"user": 1}, totals={"user": 2**64}).model_dump_json().encode()
    with pytest.raises(Exception, match="cannot be stored: at results.0.total: integer"):
        parse_pipeline(NAMES, NAMES.run_event(TENANT, "finished"), payload)


async def test_a_message_failing_for_another_reason_is_parked_after_the_limit() -> None:
    deps = make_deps_with(BrokenStore())
    decisions = []
    for deliveries in (1, 2, 3):
        msg = observed_message(deliveries)
        await deliver_to(pipeline, deps, msg)
        decisions.append(msg.decision)

    assert decisions == [("nack", 2.0), ("nack", 2.0), ("ack", None)]
    assert isinstance(deps.dead_letters, FakeDeadLetters)
    [(_, _, reason, dedupe_id)] = deps.dead_letters.parked
    assert (reason, dedupe_id) == (
        "failed 3 deliveries: KeyError: 'attributes'",
        "history:pipeline-0:7",
    )
    assert (deps.stats.retried, deps.stats.dead_lettered) == (2, 1)


async def test_an_outage_is_retried_without_limit() -> None:
    deps = make_deps_with(FakeHistoryStore(), BrokenPublisher())
    msg = observed_message(deliveries=1000)

    await deliver_to(pipeline, deps, msg)

    assert msg.decision == ("nack", 2.0) and deps.stats.dead_lettered == 0


async def test_a_tenant_deletion_mongodb_cannot_store_is_parked_at_once() -> None:
    deps = make_deps()
    tenant = {
        "id": "tenant-1",
        "name": "n",
        "tenant": "a.com",
        "cloud": "global",
        "profile_id": "p",
        "enabled": True,
        "full_scan_next": False,
        "object_types": ["user"],
        "interval_seconds": 900,
        "version": 2**64,
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
    }
    body = TenantDeleted(tenant_id="tenant-1").model_dump(mode="json") | {"tenant": tenant}
    msg = FakeJsMessage(NAMES.tenant_event("deleted"), json.dumps(body).encode(), seq=4)

    await deliver_to(tenant_deleted, deps, msg)

    assert msg.decision == ("ack", None)
    assert isinstance(deps.dead_letters, FakeDeadLetters)
    [(_, _, reason, dedupe_id)] = deps.dead_letters.parked
    assert dedupe_id == "history:tenant-deleted:4"
    assert (
        reason
        == "cannot be stored: at tenant.version: integer 18446744073709551616 exceeds 64 bits"
    )
