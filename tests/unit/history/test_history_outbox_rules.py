"""The outbox: a batch's events go out only after its commit, and a kill between the two
publishes them later, the same ids, before anything newer of the tenant."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from entrasync_history.domain.events import OutgoingEvent
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.usecases.pipeline import (
    Context,
    apply_batch,
    publish_outboxes,
    record_finished,
    record_started,
)
from entrasync_shared.subjects import Names
from history_fakes import T0, FakeEventPublisher, FakeHistoryStore, batch, finished, obj, started


class DiesOnce(FakeEventPublisher):
    """The process is killed as it is about to publish, once."""

    def __init__(self) -> None:
        super().__init__()
        self.dead = True

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        if self.dead:
            self.dead = False
            raise ConnectionError("killed")
        await super().publish(events)


def history() -> tuple[Context, FakeHistoryStore, DiesOnce]:
    store, events = FakeHistoryStore(), DiesOnce()
    ctx = Context(store, events, Names(), GuardrailPolicy(1.0, 10**6), finish_max_waits=1)
    return ctx, store, events


def ids(events: FakeEventPublisher) -> list[str]:
    return [e.msg_id for e in events.events]


async def test_a_batch_killed_after_its_commit_publishes_its_events_when_it_comes_back() -> None:
    ctx, store, events = history()
    users = batch("r1", "user", 0, [obj("u1", n="a"), obj("u2", n="b")])
    with pytest.raises(ConnectionError):
        await apply_batch(ctx, users, T0)
    committed = [entry.event.msg_id for _, entry in store.outbox]
    assert events.events == [] and len(committed) == 2

    assert not await apply_batch(ctx, users, T0)  # the redelivery: applied already
    assert ids(events) == committed
    assert store.outbox == []


async def test_what_a_kill_left_goes_out_before_the_tenants_next_events() -> None:
    ctx, store, events = history()
    with pytest.raises(ConnectionError):
        await apply_batch(ctx, batch("r1", "user", 0, [obj("u1", n="a")]), T0)
    await apply_batch(ctx, batch("r1", "device", 0, [obj("d1", n="a")]), T0)
    assert events.kinds() == [("created", "u1"), ("created", "d1")]
    assert store.outbox == []


async def test_a_recorded_run_killed_before_its_announcement_is_announced_once() -> None:
    ctx, store, events = history()
    await record_started(ctx, started("r1"))
    events.dead = False
    await apply_batch(ctx, batch("r1", "user", 0, [obj("u1", n="a")]), T0)
    events.dead = True
    with pytest.raises(ConnectionError):
        await record_finished(ctx, finished("r1", {"user": 1}), 1, T0)
    assert await publish_outboxes(ctx) == 1  # what a restart does first
    assert await record_finished(ctx, finished("r1", {"user": 1}), 1, T0) is not None
    assert events.kinds() == [("created", "u1"), ("recorded", "r1")]
    assert await publish_outboxes(ctx) == 0
