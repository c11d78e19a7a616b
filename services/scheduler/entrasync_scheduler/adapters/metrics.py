"""The scheduler's Prometheus metrics (docs/metrics.md): `PrometheusScheduleMetrics` implements
`ScheduleMetrics`; `sample_census` sets the gauges of what the scheduler holds at each scrape
(tenants, runs in flight, intervals, Graph subscriptions by state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from entrasync_shared.kit import metrics
from entrasync_shared.messages import StartSync, SyncRecorded
from prometheus_client import Counter, Gauge

from entrasync_scheduler.ports import SlotOutcome
from entrasync_scheduler.usecases.scheduler import Census

TENANTS: Final = Gauge("entrasync_scheduler_tenants", "Tenants the scheduler tracks.", ("enabled",))
IN_FLIGHT: Final = Gauge(
    "entrasync_scheduler_runs_in_flight",
    "Runs this scheduler started that have not reported back yet.",
)
SLOTS: Final = Counter(
    "entrasync_scheduler_slots",
    "Due slots acted on: queued (command sent), busy (postponed), failed (not sent).",
    ("outcome",),
)
COMMANDS: Final = Counter(
    "entrasync_scheduler_commands", "StartSync commands sent.", ("mode", "reason")
)
MISSED: Final = Counter(
    "entrasync_scheduler_missed_runs",
    "Runs declared lost: started but never reported back in time.",
)
LAST_SUCCESS: Final = Gauge(
    "entrasync_scheduler_tenant_last_success_timestamp_seconds",
    "When the tenant's last successful run finished (Unix seconds).",
    ("tenant_id",),
)
INTERVAL: Final = Gauge(
    "entrasync_scheduler_tenant_interval_seconds",
    "The tenant's sync interval as scheduled.",
    ("tenant_id",),
)
FAILURES: Final = Gauge(
    "entrasync_scheduler_tenant_consecutive_failures",
    "Runs of the tenant that failed in a row (0 after a success).",
    ("tenant_id",),
)
PER_TENANT: Final = (LAST_SUCCESS, INTERVAL, FAILURES)
NOTIFIED: Final = Counter(
    "entrasync_scheduler_notifications",
    "Change notifications and lifecycle events heard from the receiver, by kind.",
    ("kind",),
)
SUBSCRIPTIONS: Final = Gauge(
    "entrasync_scheduler_subscriptions",
    "Graph subscriptions the syncer recorded, by state (active, reauthorizing, failed).",
    ("state",),
)


class PrometheusScheduleMetrics:
    """Implements `ScheduleMetrics`; counts each run once, however often it is heard of."""

    def __init__(self) -> None:
        self._last_run: dict[str, str] = {}

    def slot(self, outcome: SlotOutcome, command: StartSync) -> None:
        SLOTS.labels(outcome).inc()
        if outcome == "queued":
            COMMANDS.labels(command.mode, command.reason).inc()

    def run_lost(self) -> None:
        MISSED.inc()

    def run_recorded(self, recorded: SyncRecorded) -> None:
        tenant_id = recorded.tenant_id
        if self._last_run.get(tenant_id) == recorded.run_id:
            return
        self._last_run[tenant_id] = recorded.run_id
        if recorded.status == "Succeeded":
            LAST_SUCCESS.labels(tenant_id).set(recorded.finished_at.timestamp())
            FAILURES.labels(tenant_id).set(0)
        elif recorded.status == "Failed":
            FAILURES.labels(tenant_id).inc()

    def tenant_gone(self, tenant_id: str) -> None:
        self._last_run.pop(tenant_id, None)
        for gauge in PER_TENANT:
            _forget(gauge, tenant_id)

    def notified(self, kind: str) -> None:
        NOTIFIED.labels(kind).inc()


def sample_census(census: Callable[[], Census]) -> None:
    """Set the tenants, in-flight and interval gauges from `census()` at each scrape (a
    tenant no longer held loses its interval)."""
    shown: set[str] = set()

    async def sampler() -> None:
        now = census()
        TENANTS.labels("true").set(now.enabled)
        TENANTS.labels("false").set(now.disabled)
        IN_FLIGHT.set(now.in_flight)
        for state, count in now.subscriptions.items():
            SUBSCRIPTIONS.labels(state).set(count)
        for tenant_id in shown - set(now.intervals):
            _forget(INTERVAL, tenant_id)
        for tenant_id, seconds in now.intervals.items():
            INTERVAL.labels(tenant_id).set(seconds)
        shown.clear()
        shown.update(now.intervals)

    metrics.on_scrape("scheduler:census", sampler)


def _forget(gauge: Gauge, tenant_id: str) -> None:
    try:
        gauge.remove(tenant_id)
    except KeyError:  # never reported for this tenant
        pass
