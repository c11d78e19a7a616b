"""The scheduler's metrics: slots by outcome, commands by mode and reason, lost runs, each
tenant's last success, consecutive failures and interval, and the census gauges sampled at
scrape — from the use case with the Prometheus adapter, over fake config and queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from entrasync_scheduler.adapters.metrics import PrometheusScheduleMetrics, sample_census
from entrasync_scheduler.domain import Planned
from entrasync_scheduler.settings import SchedulerSettings
from entrasync_scheduler.usecases.scheduler import Scheduler
from entrasync_shared.kit import metrics
from entrasync_shared.messages import ChangeNotified, SubscriptionRecord, SyncRecorded, Tenant
from prometheus_client import REGISTRY
from support.fakes import FakeClock

T0 = 1_800_000_000.0


class Config:
    async def list_tenants(self) -> list[Tenant]:
        return []


class Queue:
    def __init__(self) -> None:
        self.planned: list[Planned] = []
        self.waiting: dict[str, int] = {}
        self.broken = False

    async def pending(self, tenant_id: str) -> int:
        return self.waiting.get(tenant_id, 0)

    async def start_sync(self, planned: Planned) -> None:
        if self.broken:
            raise ConnectionError("nats is down")
        self.planned.append(planned)


def tenant(tenant_id: str, **changes: Any) -> Tenant:
    at = datetime(2027, 1, 1, tzinfo=UTC)
    return Tenant.model_validate(
        {
            "id": tenant_id,
            "name": tenant_id,
            "tenant": "a.example.com",
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


def recorded(tenant_id: str, run_id: str, status: str, at: float) -> SyncRecorded:
    when = datetime.fromtimestamp(at, UTC)
    return SyncRecorded.model_validate(
        {
            "tenant_id": tenant_id,
            "run_id": run_id,
            "mode": "full",
            "reason": "first",
            "status": status,
            "started_at": when,
            "finished_at": when,
            "types": [],
        }
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scheduler(queue: Queue, clock: FakeClock) -> Scheduler:
    settings = SchedulerSettings(jitter_seconds=0, lost_after_seconds=600, tick_seconds=1)
    return Scheduler(Config(), queue, clock, settings, PrometheusScheduleMetrics())


async def test_slots_commands_and_lost_runs_are_counted() -> None:
    queue, clock = Queue(), FakeClock(T0)
    subject = scheduler(queue, clock)
    before = {
        "queued": sample("entrasync_scheduler_slots_total", outcome="queued"),
        "busy": sample("entrasync_scheduler_slots_total", outcome="busy"),
        "failed": sample("entrasync_scheduler_slots_total", outcome="failed"),
        "first": sample("entrasync_scheduler_commands_total", mode="full", reason="first"),
        "lost": sample("entrasync_scheduler_missed_runs_total"),
    }
    subject.tenant_changed(tenant("busy-one"))
    queue.waiting["busy-one"] = 1
    await subject.tick()  # busy
    subject.tenant_deleted("busy-one")
    subject.tenant_changed(tenant("broken-one"))
    queue.broken = True
    await subject.tick()  # failed
    queue.broken = False
    await subject.tick()  # queued
    clock.now += 600
    await subject.tick()  # the run never reported back: lost, queued again

    assert sample("entrasync_scheduler_slots_total", outcome="busy") == before["busy"] + 1
    assert sample("entrasync_scheduler_slots_total", outcome="failed") == before["failed"] + 1
    assert sample("entrasync_scheduler_slots_total", outcome="queued") == before["queued"] + 2
    first = sample("entrasync_scheduler_commands_total", mode="full", reason="first")
    assert first == before["first"] + 2
    assert sample("entrasync_scheduler_missed_runs_total") == before["lost"] + 1


async def test_each_tenant_shows_its_last_success_failures_in_a_row_and_interval() -> None:
    queue, clock = Queue(), FakeClock(T0)
    subject = scheduler(queue, clock)
    tenant_id = "t-" + uuid.uuid4().hex[:8]
    subject.tenant_changed(tenant(tenant_id, interval_seconds=300))
    subject.tenant_changed(tenant("off-" + tenant_id, enabled=False))
    sample_census(subject.census)

    subject.run_recorded(recorded(tenant_id, "r1", "Succeeded", T0))
    subject.run_recorded(recorded(tenant_id, "r2", "Failed", T0 + 300))
    subject.run_recorded(recorded(tenant_id, "r3", "Failed", T0 + 600))
    subject.run_recorded(recorded(tenant_id, "r3", "Failed", T0 + 600))  # heard again
    await metrics.sample()

    last = "entrasync_scheduler_tenant_last_success_timestamp_seconds"
    assert sample(last, tenant_id=tenant_id) == T0
    failures = "entrasync_scheduler_tenant_consecutive_failures"
    assert sample(failures, tenant_id=tenant_id) == 2
    assert sample("entrasync_scheduler_tenant_interval_seconds", tenant_id=tenant_id) == 300
    assert sample("entrasync_scheduler_tenants", enabled="true") == 1
    assert sample("entrasync_scheduler_tenants", enabled="false") == 1
    # A disabled tenant is not expected to sync: no interval, so "not synced" never fires.
    interval = "entrasync_scheduler_tenant_interval_seconds"
    assert REGISTRY.get_sample_value(interval, {"tenant_id": "off-" + tenant_id}) is None

    subject.run_recorded(recorded(tenant_id, "r4", "Succeeded", T0 + 900))
    assert sample(failures, tenant_id=tenant_id) == 0
    subject.tenant_deleted(tenant_id)
    await metrics.sample()
    for name in (last, failures, "entrasync_scheduler_tenant_interval_seconds"):
        assert REGISTRY.get_sample_value(name, {"tenant_id": tenant_id}) is None


async def test_notifications_are_counted_by_kind_and_subscriptions_by_state() -> None:
    subject = scheduler(Queue(), FakeClock(T0))
    sample_census(subject.census)
    before = sample("entrasync_scheduler_notifications_total", kind="missed")
    when = datetime.fromtimestamp(T0, UTC)
    subject.notified(
        ChangeNotified(
            id="n1",
            tenant_id="unknown",
            object_type="user",
            kind="missed",
            subscription_id="s1",
            count=1,
            received_at=when,
        )
    )
    record = SubscriptionRecord(
        subscription_id="s1",
        tenant_id="t",
        entra_tenant_id="e",
        object_type="user",
        resource="users",
        client_state_sha256="0" * 64,
        expires_at=when,
        updated_at=when,
    )
    subject.subscriptions_loaded(
        [record, record.model_copy(update={"subscription_id": "s2", "state": "failed"})]
    )
    await metrics.sample()

    assert sample("entrasync_scheduler_notifications_total", kind="missed") == before + 1
    assert sample("entrasync_scheduler_subscriptions", state="active") == 1
    assert sample("entrasync_scheduler_subscriptions", state="failed") == 1
