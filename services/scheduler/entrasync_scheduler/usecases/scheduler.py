"""The scheduler's use case: its in-memory state and its loop; decisions come from `domain`.

Everything here is rebuilt from config at start: the tenant list (reconciled periodically), the
tenant events, and the `sync.recorded` events that say a run ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass, field
from typing import Literal

from entrasync_shared.messages import (
    ChangeNotified,
    Health,
    SubscriptionRecord,
    SyncNowAccepted,
    SyncRecorded,
    Tenant,
)

from entrasync_scheduler import domain
from entrasync_scheduler.domain import Planned, TenantSchedule
from entrasync_scheduler.ports import (
    Clock,
    CommandSink,
    NoMetrics,
    ScheduleMetrics,
    TenantSource,
)
from entrasync_scheduler.settings import SchedulerSettings
from entrasync_scheduler.usecases.subscriptions import SubscriptionKeeper

log = logging.getLogger("entrasync.scheduler")


class UnknownTenant(Exception):
    """`sync_now` for a tenant config does not know (or deleted)."""


class TenantDisabled(Exception):
    """`sync_now` for a disabled tenant: it never runs while disabled."""


@dataclass(frozen=True)
class Census:
    """What the scheduler holds now: tenants (enabled or not), runs in flight, each enabled
    tenant's interval as scheduled, and the Graph subscriptions recorded, by state."""

    enabled: int
    disabled: int
    in_flight: int
    intervals: dict[str, int]
    subscriptions: dict[str, int] = field(default_factory=dict)


class Scheduler:
    def __init__(
        self,
        source: TenantSource,
        sink: CommandSink,
        clock: Clock,
        settings: SchedulerSettings,
        metrics: ScheduleMetrics | None = None,
    ) -> None:
        self._source, self._sink, self._clock, self._settings = source, sink, clock, settings
        self._metrics = metrics or NoMetrics()
        self._states: dict[str, TenantSchedule] = {}
        self._deleted: set[str] = set()
        self._recorded: dict[str, SyncRecorded] = {}  # runs heard of before their tenant
        self._policy = domain.Policy(
            max_jitter=settings.jitter_seconds,
            refresh_links_after=settings.refresh_links_seconds,
            full_scan_every=settings.full_scan_every_seconds,
            nrt_poll=settings.nrt_poll_seconds,
            coalesce=settings.nrt_coalesce_seconds,
            subscriptions_every=settings.subscription_check_seconds,
            subscription_lifetime=settings.subscription_lifetime_seconds,
            renew_before=settings.subscription_renew_before_seconds,
        )
        url = settings.notification_url
        receiver = domain.Receiver.at(url) if url else None
        self._subscriptions = SubscriptionKeeper(sink, self._policy, receiver)
        self._wake = asyncio.Event()
        self._emitting = asyncio.Lock()  # the loop and `sync_now` never plan a tenant at once
        self._next_reconcile = -math.inf
        self.reconciled = False

    # -- what the handlers report -----------------------------------------------------------
    def tenant_changed(self, tenant: Tenant) -> None:
        if tenant.id in self._deleted:
            return
        now = self._clock.time()
        self._states[tenant.id] = self._adopt(self._states.get(tenant.id), tenant, now)
        self._wake.set()

    def tenant_deleted(self, tenant_id: str) -> None:
        self._deleted.add(tenant_id)
        gone = self._states.pop(tenant_id, None)
        self._recorded.pop(tenant_id, None)
        self._metrics.tenant_gone(tenant_id)
        if (gone is not None and gone.subs_version is not None) or self.subscriptions_of(tenant_id):
            self._subscriptions.remove(tenant_id, "deleted")
            self._wake.set()

    def notified(self, message: ChangeNotified) -> None:
        """Graph said a tenant's objects of a type changed (or a lifecycle event came)."""
        self._metrics.notified(message.kind)
        state = self._states.get(message.tenant_id)
        if state is None:
            return
        now = self._clock.time()
        self._states[message.tenant_id] = domain.take_notification(
            state, message.object_type, message.kind, message.subscription_id, now
        )
        self._wake.set()

    def subscriptions_loaded(self, records: list[SubscriptionRecord]) -> None:
        """The bucket's content at (re)start of its watch."""
        self._subscriptions.loaded_all(records)
        self._wake.set()

    def subscription_stored(self, record: SubscriptionRecord) -> None:
        self._subscriptions.stored(record)

    def subscription_dropped(self, subscription_id: str) -> None:
        self._subscriptions.dropped(subscription_id)

    def subscriptions_of(self, tenant_id: str) -> list[SubscriptionRecord]:
        """The tenant's Graph subscriptions as the syncer recorded them, by object type."""
        return self._subscriptions.of(tenant_id)

    def run_recorded(self, recorded: SyncRecorded) -> None:
        if recorded.tenant_id not in self._deleted:
            self._metrics.run_recorded(recorded)
        state = self._states.get(recorded.tenant_id)
        if state is None:
            if recorded.tenant_id not in self._deleted:
                self._recorded[recorded.tenant_id] = recorded
            return
        self._states[recorded.tenant_id] = domain.record_run(state, recorded, self._policy)
        self._wake.set()

    async def sync_now(self, tenant_id: str, tag: str) -> SyncNowAccepted:
        """Run the tenant at once, or right after the run it is busy with."""
        state = self._states.get(tenant_id)
        if state is None and tenant_id not in self._deleted:
            await self.reconcile()  # config may know a tenant whose event we have not seen
            state = self._states.get(tenant_id)
        if state is None:
            raise UnknownTenant(f"no tenant {tenant_id}")
        if not state.tenant.enabled:
            raise TenantDisabled(f"tenant {tenant_id} is disabled; enable it first")
        async with self._emitting:
            now = self._clock.time()
            state = domain.force_run(self._states.get(tenant_id, state), tag, "manual")
            self._states[tenant_id] = state
            if state.in_flight is None:
                planned = domain.plan_start(state, now, self._policy)
                if planned is not None and await self._emit(planned, now) == "queued":
                    return SyncNowAccepted(
                        tenant_id=tenant_id,
                        status="queued",
                        run_id=planned.command.run_id,
                        mode=planned.command.mode,
                        reason=planned.command.reason,
                    )
        busy = self._states.get(tenant_id, state)
        after = busy.in_flight.run_id if busy.in_flight is not None else None
        self._wake.set()
        return SyncNowAccepted(tenant_id=tenant_id, status="deferred", after_run=after)

    def census(self) -> Census:
        states = list(self._states.values())
        enabled = sum(1 for s in states if s.tenant.enabled)
        return Census(
            enabled=enabled,
            disabled=len(states) - enabled,
            in_flight=sum(1 for s in states if s.in_flight is not None),
            # Enabled tenants only: a disabled one is not expected to sync, so the "not synced
            # for 3 intervals" alert (keyed on this gauge) leaves it alone.
            intervals={
                s.tenant.id: domain.interval_of(s.tenant, self._policy)
                for s in states
                if s.tenant.enabled
            },
            subscriptions=self._subscriptions.counts(),
        )

    def health(self) -> Health:
        details = {"tenants": str(len(self._states)), "reconciled": str(self.reconciled)}
        details.update(self._subscriptions.health())
        return Health(service="scheduler", ok=self.reconciled, details=details)

    # -- the loop ---------------------------------------------------------------------------
    async def reconcile(self) -> None:
        asked_at = self._clock.time()
        listed = await self._source.list_tenants()
        now = self._clock.time()
        merged = domain.reconcile(self._states, listed, self._deleted, asked_at, now)
        for tenant_id, state in merged.items():
            if tenant_id not in self._states:
                merged[tenant_id] = self._adopt(None, state.tenant, now)
        self._states = merged
        self._recorded.clear()  # records of tenants config does not list: deleted ones
        self._next_reconcile = now + self._settings.reconcile_seconds
        self.reconciled = True

    async def tick(self) -> float:
        """Emit every due command; return how long to wait before looking again."""
        async with self._emitting:
            return await self._tick()

    async def _tick(self) -> float:
        now, all_emitted = self._clock.time(), True
        for tenant_id in list(self._states):
            state = self._states.get(tenant_id)
            if state is None:
                continue
            if (live := self._expire(state, now)) is not state:
                self._states[tenant_id] = state = live
            planned = domain.plan_start(state, now, self._policy) or domain.plan_targeted(
                state, now, self._policy
            )
            if planned is not None:
                all_emitted = await self._emit(planned, now) != "failed" and all_emitted
            all_emitted = await self._look_after_subscriptions(tenant_id, now) and all_emitted
        all_emitted = await self._subscriptions.remove_unknown(now, self._known) and all_emitted
        if not all_emitted:
            return self._settings.tick_seconds
        return self._pause(self._clock.time())

    async def run_forever(self) -> None:
        await self._first_reconcile()
        while True:
            if self._clock.time() >= self._next_reconcile:
                try:
                    await self.reconcile()
                except Exception as err:
                    log.warning("periodic reconcile with config failed, keeping state: %r", err)
                    self._next_reconcile = self._clock.time() + self._settings.tick_seconds
            self._wake.clear()
            try:
                pause = await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
                pause = self._settings.tick_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    # -- internals --------------------------------------------------------------------------
    async def _first_reconcile(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self.reconcile()
            except Exception as err:
                log.info("waiting for config to list tenants (%r)", err)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            else:
                log.info("entrasync-scheduler ready: %d tenant(s) from config", len(self._states))
                return

    def _expire(self, state: TenantSchedule, now: float) -> TenantSchedule:
        live = domain.expire_lost_run(state, now, self._settings.lost_after_seconds)
        if live is not state and state.in_flight is not None:
            self._metrics.run_lost()
            log.warning(
                "run %s of tenant %s never reported back; declared lost",
                state.in_flight.run_id,
                state.tenant.id,
            )
        return live

    def _adopt(self, current: TenantSchedule | None, tenant: Tenant, now: float) -> TenantSchedule:
        state = domain.track_tenant(current, tenant, now)
        early = self._recorded.pop(tenant.id, None) if current is None else None
        return domain.record_run(state, early, self._policy) if early else state

    async def _emit(self, planned: Planned, now: float) -> Literal["queued", "busy", "failed"]:
        """Queue the command, unless the tenant's queue already holds one (then wait for it)."""
        command = planned.command
        try:
            if await self._sink.pending(command.tenant_id):
                self._postpone(command.tenant_id, now, planned.kind)
                self._metrics.slot("busy", command)
                return "busy"
            fresh = await self._sink.start_sync(planned)
        except Exception as err:
            log.warning("could not emit run %s of %s: %r", command.run_id, command.tenant_id, err)
            self._metrics.slot("failed", command)
            return "failed"
        self._metrics.slot("queued", command)
        log.info(
            "run %s of tenant %s emitted: %s (%s)",
            command.run_id,
            command.tenant_id,
            command.mode,
            command.reason,
        )
        current = self._states.get(command.tenant_id)
        if current is not None:
            self._states[command.tenant_id] = domain.mark_started(
                current, planned, now, self._policy, fresh=fresh
            )
        return "queued"

    def _postpone(self, tenant_id: str, now: float, kind: str) -> None:
        current = self._states.get(tenant_id)
        if current is None:
            return
        log.info("tenant %s has a command queued or running; waiting for it", tenant_id)
        recheck = self._settings.busy_recheck_seconds
        if kind == "targeted":  # a notification round follows the run it waits for closely
            recheck = min(recheck, self._policy.coalesce)
        self._states[tenant_id] = domain.mark_busy(current, now, recheck)

    def _pause(self, now: float) -> float:
        dues = [domain.next_due(s, self._policy) for s in self._states.values()]
        dues += [domain.targeted_due(s, self._policy) for s in self._states.values()]
        soonest = min([d for d in dues if d is not None] + [self._next_reconcile])
        return max(0.0, min(self._settings.tick_seconds, soonest - now))

    def _known(self, tenant_id: str) -> bool:
        """Config lists the tenant (or the list has not been read yet)."""
        return not self.reconciled or tenant_id in self._states

    async def _look_after_subscriptions(self, tenant_id: str, now: float) -> bool:
        state = self._states.get(tenant_id)
        if state is None:
            return True
        sent, after = await self._subscriptions.look_after(state, now)
        if after is not None and tenant_id in self._states:
            self._states[tenant_id] = after
        return sent
