from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from entrasync_scheduler.domain import Planned
from entrasync_scheduler.service import Scheduler
from entrasync_scheduler.settings import SchedulerSettings
from entrasync_shared.messages import Tenant

T0 = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now


class FakeConfig:
    def __init__(self, *tenants: Tenant) -> None:
        self.tenants = list(tenants)

    async def list_tenants(self) -> list[Tenant]:
        return self.tenants


class FakeQueue:
    def __init__(self) -> None:
        self.planned: list[Planned] = []
        self.broken = False

    async def start_sync(self, planned: Planned) -> None:
        if self.broken:
            raise ConnectionError("nats is down")
        self.planned.append(planned)


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
    config, queue, clock = FakeConfig(tenant("a"), tenant("b")), FakeQueue(), FakeClock()
    subject = scheduler(config, queue, clock)

    await subject.reconcile()
    await subject.tick()
    await subject.tick()

    assert sorted(p.command.tenant_id for p in queue.planned) == ["a", "b"]
    assert subject.health().ok


async def test_a_deleted_tenant_never_runs_again_even_if_a_stale_list_has_it() -> None:
    config, queue, clock = FakeConfig(tenant("a")), FakeQueue(), FakeClock()
    subject = scheduler(config, queue, clock)

    subject.tenant_deleted("a")
    await subject.reconcile()
    subject.tenant_changed(tenant("a", version=2))
    await subject.tick()

    assert queue.planned == []


async def test_a_command_that_could_not_be_queued_is_retried_on_the_next_tick() -> None:
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock()
    subject = scheduler(config, queue, clock)
    subject.tenant_changed(tenant("a"))

    queue.broken = True
    assert await subject.tick() == 1
    queue.broken = False
    await subject.tick()

    assert [p.command.reason for p in queue.planned] == ["first"]


async def test_a_lost_run_is_replaced_after_the_timeout() -> None:
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock()
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
    config, queue, clock = FakeConfig(), FakeQueue(), FakeClock()
    subject = scheduler(config, queue, clock)
    await subject.reconcile()

    assert await subject.tick() == 1
    subject.tenant_changed(tenant("a", enabled=False))
    assert await subject.tick() == 1
    assert queue.planned == []
