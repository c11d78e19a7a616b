from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from entrasync_scheduler.domain import Planned
from entrasync_scheduler.settings import SchedulerSettings
from entrasync_scheduler.usecases.scheduler import Scheduler, TenantDisabled, UnknownTenant
from entrasync_shared.messages import SyncRecorded, Tenant
from support.fakes import FakeClock

T0 = 1_800_000_000.0


class FakeConfig:
    def __init__(self, *tenants: Tenant) -> None:
        self.tenants = list(tenants)

    async def list_tenants(self) -> list[Tenant]:
        return self.tenants


class FakeQueue:
    """Records queued commands; `waiting` counts commands a tenant still has on the queue."""

    def __init__(self) -> None:
        self.planned: list[Planned] = []
        self.waiting: dict[str, int] = {}
        self.broken = False

    async def pending(self, tenant_id: str) -> int:
        if self.broken:
            raise ConnectionError("nats is down")
        return self.waiting.get(tenant_id, 0)

    async def start_sync(self, planned: Planned) -> bool:
        if self.broken:
            raise ConnectionError("nats is down")
        self.planned.append(planned)
        return True

    async def manage_subscriptions(self, planned: object) -> None:
        raise AssertionError("no tenant here is near real time")


def tenant(tenant_id: str = "a", **changes: Any) -> Tenant:
    at = datetime(2027, 1, 1, tzinfo=UTC)
    return Tenant.model_validate(
        {
            "id": tenant_id,
            "name": tenant_id,
            "tenant": f"{tenant_id}.example.com",
            "cloud": "global",
            "profile_id": "p",
            "enabled": True,
            "full_scan_next": True,
            "object_types": ("user",),
            "interval_seconds": 60,
            "created_at": at,
            "updated_at": at,
            **changes,
        }
    )


def scheduler(config: FakeConfig, queue: FakeQueue, clock: FakeClock) -> Scheduler:
    settings = SchedulerSettings(jitter_seconds=0, lost_after_seconds=600, tick_seconds=1)
    return Scheduler(source=config, sink=queue, clock=clock, settings=settings)


async def test_tenants_listed_by_config_run_once_per_slot() -> None:
    config, queue, clock = FakeConfig(tenant("a"), tenant("b")), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)

    await subject.reconcile()
    await subject.tick()
    await subject.tick()

    assert sorted(p.command.tenant_id for p in queue.planned) == ["a", "b"]
    assert subject.health().ok


async def test_a_deleted_tenant_never_runs_again_even_if_a_stale_list_has_it() -> None:
    config, queue, clock = FakeConfig(tenant("a")), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)

    subject.tenant_deleted("a")
    await subject.reconcile()
    subject.tenant_changed(tenant("a", version=2))
    await subject.tick()

    assert queue.planned == []


async def test_a_command_that_could_not_be_queued_is_retried_on_the_next_tick() -> None:
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)
    subject.tenant_changed(tenant("a"))

    queue.broken = True
    assert await subject.tick() == 1
    queue.broken = False
    await subject.tick()

    assert [p.command.reason for p in queue.planned] == ["first"]


async def test_a_lost_run_is_replaced_after_the_timeout() -> None:
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)
    subject.tenant_changed(tenant("a"))
    await subject.tick()

    clock.now += 599
    await subject.tick()
    clock.now += 1
    await subject.tick()

    assert [p.command.reason for p in queue.planned] == ["first", "first"]
    assert queue.planned[0].command.run_id != queue.planned[1].command.run_id


async def test_the_wait_never_exceeds_the_tick_nor_the_next_due_run() -> None:
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)
    await subject.reconcile()

    assert await subject.tick() == 1
    subject.tenant_changed(tenant("a", enabled=False))
    assert await subject.tick() == 1
    assert queue.planned == []


def recorded(run_id: str, tenant_id: str = "a", at: float = T0, **changes: Any) -> SyncRecorded:
    when = datetime.fromtimestamp(at, UTC)
    return SyncRecorded.model_validate(
        {
            "tenant_id": tenant_id,
            "run_id": run_id,
            "mode": "full",
            "reason": "first",
            "status": "Succeeded",
            "started_at": when,
            "finished_at": when,
            "types": [
                {"object_type": "user", "mode": "full", "reason": "first", "status": "Succeeded"}
            ],
            **changes,
        }
    )


async def test_sync_now_queues_a_manual_run_at_once_even_in_a_slot_that_already_ran() -> None:
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)
    subject.tenant_changed(tenant("a", full_scan_next=False))
    await subject.tick()
    subject.run_recorded(recorded(queue.planned[0].command.run_id, mode="delta"))

    accepted = await subject.sync_now("a", "req1")

    assert accepted.status == "queued" and accepted.reason == "manual"
    manual = queue.planned[1]
    assert (manual.command.run_id, manual.command.mode) == (accepted.run_id, "delta")
    assert manual.msg_id == f"a:{int(T0 // 60)}.req1" != queue.planned[0].msg_id


async def test_sync_now_during_a_run_is_deferred_until_that_run_ends() -> None:
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)
    subject.tenant_changed(tenant("a"))
    await subject.tick()
    running = queue.planned[0].command.run_id

    accepted = await subject.sync_now("a", "req1")
    await subject.tick()

    assert (accepted.status, accepted.after_run) == ("deferred", running)
    assert len(queue.planned) == 1
    subject.run_recorded(recorded(running))
    await subject.tick()
    assert [p.command.reason for p in queue.planned] == ["first", "manual"]


async def test_sync_now_refuses_unknown_and_disabled_tenants() -> None:
    config, queue, clock = FakeConfig(tenant("off", enabled=False)), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)

    with pytest.raises(UnknownTenant):
        await subject.sync_now("nope", "req")
    with pytest.raises(TenantDisabled):
        await subject.sync_now("off", "req")
    assert queue.planned == []


async def test_a_tenant_whose_queue_holds_another_command_waits_for_it() -> None:
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)
    queue.waiting["a"] = 1  # e.g. a run another replica or a sync now queued
    subject.tenant_changed(tenant("a"))

    await subject.tick()
    clock.now += 4
    await subject.tick()
    assert queue.planned == []

    queue.waiting["a"] = 0
    clock.now += 1
    await subject.tick()
    assert [p.command.reason for p in queue.planned] == ["first"]


async def test_a_restarted_replica_does_not_repeat_a_slot_another_one_ran() -> None:
    config, queue, clock = FakeConfig(tenant("a", full_scan_next=False)), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)
    clock.now = T0 + 30

    subject.run_recorded(recorded("earlier", at=T0 + 2))  # replayed before the tenant list
    await subject.reconcile()
    await subject.tick()
    assert queue.planned == []

    clock.now = T0 + 60
    await subject.tick()
    assert [p.command.reason for p in queue.planned] == ["schedule"]


async def test_a_tenant_enabled_again_runs_at_once() -> None:
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)
    subject.tenant_changed(tenant("a", full_scan_next=False))
    await subject.tick()
    subject.run_recorded(recorded(queue.planned[0].command.run_id, mode="delta"))

    subject.tenant_changed(tenant("a", full_scan_next=False, enabled=False, version=2))
    await subject.tick()
    subject.tenant_changed(tenant("a", full_scan_next=False, version=3))
    await subject.tick()

    assert [p.msg_id for p in queue.planned] == [f"a:{int(T0 // 60)}", f"a:{int(T0 // 60)}.v3"]


async def test_by_default_a_full_scan_runs_a_day_after_the_last_full_success() -> None:
    """The safety net for restores Graph leaves out of `$select` delta rounds for good
    (microsoft-graph-docs#5821, issue 17 point 2): only a full round lists them again."""
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock(T0)
    subject = scheduler(config, queue, clock)
    subject.tenant_changed(tenant("a", interval_seconds=3600))
    await subject.tick()
    subject.run_recorded(recorded(queue.planned[0].command.run_id))

    for hour in range(1, 25):
        clock.now = T0 + hour * 3600
        await subject.tick()
        command = queue.planned[-1].command
        kinds = {"mode": command.mode, "reason": command.reason}
        user = {"object_type": "user", "status": "Succeeded", **kinds}
        subject.run_recorded(recorded(command.run_id, at=clock.now, types=[user], **kinds))

    modes = [(p.command.mode, p.command.reason) for p in queue.planned]
    assert modes == [("full", "first")] + [("delta", "schedule")] * 23 + [("full", "periodic")]
