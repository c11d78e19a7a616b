"""Near real time in the scheduler: notification rounds (coalesced, queued behind a running run,
identical on every replica), the safety-net poll, and the subscription commands it sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_scheduler.domain import Planned, PlannedSubscriptions
from entrasync_scheduler.settings import SchedulerSettings
from entrasync_scheduler.usecases.scheduler import Scheduler
from entrasync_shared.messages import ChangeNotified, SubscriptionRecord, SyncRecorded, Tenant
from support.fakes import FakeClock

T0 = 1_800_000_000.0  # a multiple of 60, 600 and 3600
URL = "https://receiver.example.com"


class FakeQueue:
    """The command queue: what was queued, and message ids it already holds (JetStream's
    duplicate window, shared by replicas when a test gives two schedulers one queue)."""

    def __init__(self) -> None:
        self.planned: list[Planned] = []
        self.subscriptions: list[PlannedSubscriptions] = []
        self.ids: set[str] = set()

    async def pending(self, tenant_id: str) -> int:
        return 0

    async def start_sync(self, planned: Planned) -> bool:
        fresh = planned.msg_id not in self.ids
        self.ids.add(planned.msg_id)
        if fresh:
            self.planned.append(planned)
        return fresh

    async def manage_subscriptions(self, planned: PlannedSubscriptions) -> None:
        if planned.msg_id not in self.ids:
            self.ids.add(planned.msg_id)
            self.subscriptions.append(planned)


class FakeConfig:
    def __init__(self, *tenants: Tenant) -> None:
        self.tenants = list(tenants)

    async def list_tenants(self) -> list[Tenant]:
        return self.tenants


def tenant(**changes: Any) -> Tenant:
    at = datetime(2027, 1, 1, tzinfo=UTC)
    return Tenant.model_validate(
        {
            "id": "a",
            "name": "a",
            "tenant": "a.example.com",
            "cloud": "global",
            "profile_id": "p",
            "enabled": True,
            "full_scan_next": False,
            "object_types": ("user", "group", "device"),
            "interval_seconds": 60,
            "near_real_time": True,
            "created_at": at,
            "updated_at": at,
            **changes,
        }
    )


def scheduler(queue: FakeQueue, clock: FakeClock, **settings: Any) -> Scheduler:
    chosen = SchedulerSettings(
        **{
            "jitter_seconds": 0,
            "tick_seconds": 1,
            "full_scan_every_seconds": 0,
            "notification_url": URL,
            **settings,
        }
    )
    subject = Scheduler(source=FakeConfig(), sink=queue, clock=clock, settings=chosen)
    subject.subscriptions_loaded([])
    return subject


def change(kind: str = "changed", object_type: str = "user", sub: str = "s-user") -> ChangeNotified:
    return ChangeNotified.model_validate(
        {
            "id": f"n-{kind}-{object_type}",
            "tenant_id": "a",
            "object_type": object_type,
            "kind": kind,
            "subscription_id": sub,
            "count": 1,
            "received_at": datetime(2027, 1, 1, tzinfo=UTC),
        }
    )


def finished(planned: Planned, at: float) -> SyncRecorded:
    command, when = planned.command, datetime.fromtimestamp(at, UTC)
    types = [
        {"object_type": t, "mode": command.mode, "reason": command.reason, "status": "Succeeded"}
        for t in command.object_types
    ]
    return SyncRecorded.model_validate(
        {
            "tenant_id": command.tenant_id,
            "run_id": command.run_id,
            "mode": command.mode,
            "reason": command.reason,
            "status": "Succeeded",
            "started_at": when,
            "finished_at": when,
            "types": types,
        }
    )


async def started_and_idle(queue: FakeQueue, clock: FakeClock, **settings: Any) -> Scheduler:
    """A near-real-time tenant whose first slot ran and finished."""
    subject = scheduler(queue, clock, **settings)
    subject.tenant_changed(tenant())
    await subject.tick()
    subject.run_recorded(finished(queue.planned[0], clock.now))
    return subject


def rounds(queue: FakeQueue) -> list[tuple[str, tuple[str, ...]]]:
    return [(p.command.reason, p.command.object_types) for p in queue.planned]


async def test_a_burst_of_notifications_makes_one_round_per_window_never_two_at_once() -> None:
    queue, clock = FakeQueue(), FakeClock(T0 + 0.1)
    subject = await started_and_idle(queue, clock)

    for _ in range(1000):
        subject.notified(change())
        await subject.tick()
    first = queue.planned[-1]
    clock.now += 1.0  # the next window, but the round still runs: nothing more yet
    for _ in range(500):
        subject.notified(change())
        await subject.tick()
    assert rounds(queue)[1:] == [("notification", ("user",))]

    subject.run_recorded(finished(first, clock.now))
    await subject.tick()

    assert rounds(queue)[1:] == [("notification", ("user",))] * 2
    assert first.command.mode == queue.planned[-1].command.mode == "delta"


async def test_a_round_that_ended_within_its_window_waits_for_the_next_one() -> None:
    queue, clock = FakeQueue(), FakeClock(T0 + 0.1)
    subject = await started_and_idle(queue, clock)
    subject.notified(change())
    await subject.tick()
    subject.run_recorded(finished(queue.planned[-1], clock.now))

    clock.now = T0 + 0.5
    subject.notified(change(object_type="group", sub="s-group"))
    subject.tenant_changed(tenant())
    subject._next_reconcile = T0 + 60  # as after a reconcile: only the round is due soon
    pause = await subject.tick()
    assert len(queue.planned) == 2 and 0 < pause <= 0.5

    clock.now = T0 + 1.0
    await subject.tick()
    assert rounds(queue)[1:] == [("notification", ("user",)), ("notification", ("group",))]


async def test_types_notified_together_are_read_by_one_round() -> None:
    queue, clock = FakeQueue(), FakeClock(T0 + 0.1)
    subject = await started_and_idle(queue, clock)

    subject.notified(change(object_type="group", sub="s-group"))
    subject.notified(change())
    await subject.tick()

    assert rounds(queue)[1:] == [("notification", ("user", "group"))]


async def test_replicas_notified_in_the_same_window_emit_the_same_command() -> None:
    queue, clock = FakeQueue(), FakeClock(T0 + 0.1)
    one = await started_and_idle(queue, clock)
    two = scheduler(queue, clock)
    two.tenant_changed(tenant())
    two.run_recorded(finished(queue.planned[0], clock.now))

    one.notified(change())
    await one.tick()
    clock.now += 0.3
    two.notified(change())
    await two.tick()

    assert rounds(queue)[1:] == [("notification", ("user",))]  # JetStream kept one
    # The replica whose copy was a duplicate keeps its notification for a round after it.
    two.run_recorded(finished(queue.planned[-1], clock.now))
    clock.now += 1
    await two.tick()
    assert rounds(queue)[1:] == [("notification", ("user",))] * 2


async def test_a_missed_event_runs_at_once_even_after_a_round_in_the_window() -> None:
    queue, clock = FakeQueue(), FakeClock(T0 + 0.1)
    subject = await started_and_idle(queue, clock)
    subject.notified(change())
    await subject.tick()
    subject.run_recorded(finished(queue.planned[-1], clock.now))

    subject.notified(change("missed"))
    await subject.tick()

    assert rounds(queue)[1:] == [("notification", ("user",))] * 2
    assert queue.planned[-1].msg_id != queue.planned[-2].msg_id


async def test_notifications_for_a_tenant_that_is_not_near_real_time_are_ignored() -> None:
    queue, clock = FakeQueue(), FakeClock(T0 + 0.1)
    subject = await started_and_idle(queue, clock)
    subject.tenant_changed(tenant(near_real_time=False, version=2))

    subject.notified(change())
    await subject.tick()

    assert rounds(queue)[1:] == []


async def test_notification_rounds_leave_the_slots_to_the_schedule() -> None:
    queue, clock = FakeQueue(), FakeClock(T0 + 0.1)
    subject = await started_and_idle(queue, clock, jitter_seconds=5)

    clock.now = T0 + 60  # a new slot, whose run is due a jitter later
    subject.notified(change())
    await subject.tick()
    subject.run_recorded(finished(queue.planned[-1], clock.now))
    clock.now = T0 + 66
    await subject.tick()

    assert rounds(queue)[1:] == [("notification", ("user",)), ("schedule", ("device",))]


async def test_users_and_groups_are_polled_at_the_long_interval_devices_at_their_own() -> None:
    queue, clock = FakeQueue(), FakeClock(T0)
    subject = await started_and_idle(queue, clock)

    for minute in range(1, 121):
        clock.now = T0 + 60 * minute
        await subject.tick()
        subject.run_recorded(finished(queue.planned[-1], clock.now))

    polls = [types for reason, types in rounds(queue)[1:] if "user" in types]
    assert len(queue.planned) == 121
    assert polls == [("user", "group", "device")] * 2


async def test_a_tenant_with_only_users_and_groups_runs_at_the_long_interval() -> None:
    queue, clock = FakeQueue(), FakeClock(T0)
    subject = scheduler(queue, clock)
    subject.tenant_changed(tenant(object_types=("user", "group")))
    await subject.tick()
    subject.run_recorded(finished(queue.planned[0], clock.now))

    clock.now = T0 + 3599
    await subject.tick()
    assert len(queue.planned) == 1
    clock.now = T0 + 3600
    await subject.tick()
    assert rounds(queue)[1:] == [("schedule", ("user", "group"))]


# -- subscriptions ------------------------------------------------------------------------------


def record(object_type: str = "user", **changes: Any) -> SubscriptionRecord:
    return SubscriptionRecord.model_validate(
        {
            "subscription_id": f"s-{object_type}",
            "tenant_id": "a",
            "entra_tenant_id": "11111111-2222-3333-4444-555555555555",
            "object_type": object_type,
            "resource": f"{object_type}s",
            "client_state_sha256": "0" * 64,
            "expires_at": datetime.fromtimestamp(T0, UTC) + timedelta(days=3),
            "updated_at": datetime.fromtimestamp(T0, UTC),
            **changes,
        }
    )


def asked(queue: FakeQueue) -> list[tuple[str, str]]:
    return [(p.command.action, p.msg_id.rsplit(":", 1)[-1]) for p in queue.subscriptions]


async def test_a_near_real_time_tenant_is_ensured_at_start_and_when_it_changes() -> None:
    queue, clock = FakeQueue(), FakeClock(T0)
    subject = scheduler(queue, clock)
    subject.tenant_changed(tenant())
    await subject.tick()
    await subject.tick()
    subject.tenant_changed(tenant(version=2, name="renamed"))
    await subject.tick()

    assert asked(queue) == [("ensure", "v1"), ("ensure", "v2")]
    command = queue.subscriptions[0].command
    assert command.object_types == ("user", "group")
    assert (command.notification_url, command.lifecycle_url) == (
        f"{URL}/notifications",
        f"{URL}/lifecycle",
    )


async def test_subscriptions_expiring_soon_or_failed_are_seen_to_once_per_window() -> None:
    queue, clock = FakeQueue(), FakeClock(T0)
    subject = scheduler(queue, clock)
    subject.subscriptions_loaded([record(), record("group")])
    subject.tenant_changed(tenant())
    await subject.tick()  # the start-up ensure
    clock.now = T0 + 600
    await subject.tick()
    assert asked(queue) == [("ensure", "v1")]  # both active, far from expiry

    subject.subscription_stored(record("group", state="failed", error="403 Forbidden"))
    await subject.tick()
    clock.now = T0 + 900
    await subject.tick()
    clock.now = T0 + 1200
    subject.subscription_stored(record("group"))
    clock.now = T0 + 1.6 * 24 * 3600  # both now expire within the 36 h renew-before
    await subject.tick()

    window = int(T0 // 600)
    assert asked(queue) == [
        ("ensure", "v1"),
        ("ensure", f"w{window + 1}"),
        ("ensure", f"w{int(clock.now // 600)}"),
    ]
    health = subject.health().details
    assert health["subscriptions"] == "2 active, 0 reauthorizing, 0 failed"


async def test_lifecycle_events_ask_to_reauthorize_or_recreate_and_start_a_round() -> None:
    queue, clock = FakeQueue(), FakeClock(T0 + 0.1)
    subject = await started_and_idle(queue, clock)
    subject.subscriptions_loaded([record(), record("group")])

    subject.notified(change("reauthorizationRequired"))
    subject.notified(change("subscriptionRemoved", "group", "s-group"))
    await subject.tick()

    ensure = queue.subscriptions[-1].command
    assert (ensure.action, ensure.reauthorize, ensure.recreate) == (
        "ensure",
        ("s-user",),
        ("s-group",),
    )
    assert rounds(queue)[1:] == [("notification", ("user", "group"))]


async def test_subscriptions_are_deleted_when_the_tenant_stops_wanting_them() -> None:
    queue, clock = FakeQueue(), FakeClock(T0)
    subject = scheduler(queue, clock)
    subject.subscriptions_loaded([record(), record("group")])
    subject.tenant_changed(tenant(enabled=False))
    await subject.tick()
    subject.tenant_changed(tenant(enabled=True, near_real_time=False, version=2))
    await subject.tick()
    await subject.tick()

    assert asked(queue) == [("delete", "v1"), ("delete", "v2")]


async def test_a_deleted_tenants_subscriptions_are_deleted() -> None:
    queue, clock = FakeQueue(), FakeClock(T0)
    subject = scheduler(queue, clock)
    subject.tenant_changed(tenant())
    await subject.tick()

    subject.tenant_deleted("a")
    await subject.tick()

    assert asked(queue) == [("ensure", "v1"), ("delete", "deleted")]


async def test_without_a_notification_url_nothing_is_ensured() -> None:
    queue, clock = FakeQueue(), FakeClock(T0)
    subject = scheduler(queue, clock, notification_url=None)
    subject.tenant_changed(tenant())
    await subject.tick()

    assert asked(queue) == []


async def test_a_long_own_interval_still_polls_users_and_groups_at_the_safety_net_interval() -> (
    None
):
    queue, clock = FakeQueue(), FakeClock(T0)
    subject = scheduler(queue, clock)
    subject.tenant_changed(tenant(interval_seconds=4 * 3600))
    await subject.tick()
    subject.run_recorded(finished(queue.planned[0], clock.now))

    for hour in range(1, 9):
        clock.now = T0 + 3600 * hour
        await subject.tick()
        subject.run_recorded(finished(queue.planned[-1], clock.now))

    assert [types for _, types in rounds(queue)[1:]] == [
        ("user", "group"),
        ("user", "group"),
        ("user", "group"),
        ("user", "group", "device"),
    ] * 2


async def test_subscriptions_of_a_tenant_config_does_not_know_are_deleted_once_per_window() -> None:
    queue, clock = FakeQueue(), FakeClock(T0)
    subject = scheduler(queue, clock)
    subject.subscriptions_loaded([record(tenant_id="gone")])
    await subject.reconcile()  # config lists no tenant at all

    await subject.tick()
    await subject.tick()
    clock.now = T0 + 600
    await subject.tick()

    window = int(T0 // 600)
    assert [(p.command.tenant_id, p.command.action) for p in queue.subscriptions] == [
        ("gone", "delete")
    ] * 2
    assert asked(queue) == [("delete", f"o{window}"), ("delete", f"o{window + 1}")]


async def test_a_notification_heard_while_the_round_is_queued_gets_a_round_after_it() -> None:
    queue, clock = FakeQueue(), FakeClock(T0 + 0.1)
    subject = await started_and_idle(queue, clock)
    queue_it = queue.start_sync

    async def slow_queue(planned: Planned) -> bool:
        clock.now += 0.05  # the PubAck takes a moment, and a notification comes meanwhile
        subject.notified(change())
        return await queue_it(planned)

    queue.start_sync = slow_queue  # type: ignore[method-assign]
    subject.notified(change())
    await subject.tick()
    queue.start_sync = queue_it  # type: ignore[method-assign]
    subject.run_recorded(finished(queue.planned[-1], clock.now))
    clock.now = T0 + 1.0
    await subject.tick()

    assert rounds(queue)[1:] == [("notification", ("user",))] * 2
