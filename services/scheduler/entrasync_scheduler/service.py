"""The scheduler's in-memory state and its loop; decisions come from `domain`.

Everything here is rebuilt from config at start: the tenant list (reconciled periodically), the
tenant events, and the `sync.recorded` events that say a run ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Protocol

from entrasync_shared.messages import Health, SyncRecorded, Tenant

from entrasync_scheduler import domain
from entrasync_scheduler.domain import Planned, TenantSchedule
from entrasync_scheduler.settings import SchedulerSettings

log = logging.getLogger("entrasync.scheduler")


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock epoch seconds (shared by replicas, so slots agree)."""


class SystemClock:
    def time(self) -> float:
        return time.time()


class TenantSource(Protocol):
    async def list_tenants(self) -> list[Tenant]:
        """Every tenant config holds; raises when config does not answer."""


class CommandSink(Protocol):
    async def start_sync(self, planned: Planned) -> None:
        """Put the command on the work queue; raises when it could not."""


class Scheduler:
    def __init__(
        self,
        source: TenantSource,
        sink: CommandSink,
        clock: Clock,
        settings: SchedulerSettings,
    ) -> None:
        self._source, self._sink, self._clock, self._settings = source, sink, clock, settings
        self._states: dict[str, TenantSchedule] = {}
        self._deleted: set[str] = set()
        self._wake = asyncio.Event()
        self._next_reconcile = -math.inf
        self.reconciled = False

    # -- what the handlers report -----------------------------------------------------------
    def tenant_changed(self, tenant: Tenant) -> None:
        if tenant.id in self._deleted:
            return
        now = self._clock.time()
        self._states[tenant.id] = domain.track_tenant(self._states.get(tenant.id), tenant, now)
        self._wake.set()

    def tenant_deleted(self, tenant_id: str) -> None:
        self._deleted.add(tenant_id)
        self._states.pop(tenant_id, None)

    def run_recorded(self, recorded: SyncRecorded) -> None:
        state = self._states.get(recorded.tenant_id)
        if state is not None:
            self._states[recorded.tenant_id] = domain.record_run(state, recorded)
            self._wake.set()

    def health(self) -> Health:
        details = {"tenants": str(len(self._states)), "reconciled": str(self.reconciled)}
        return Health(service="scheduler", ok=self.reconciled, details=details)

    # -- the loop ---------------------------------------------------------------------------
    async def reconcile(self) -> None:
        asked_at = self._clock.time()
        listed = await self._source.list_tenants()
        now = self._clock.time()
        self._states = domain.reconcile(self._states, listed, self._deleted, asked_at, now)
        self._next_reconcile = now + self._settings.reconcile_seconds
        self.reconciled = True

    async def tick(self) -> float:
        """Emit every due command; return how long to wait before looking again."""
        now, all_emitted = self._clock.time(), True
        for tenant_id in list(self._states):
            state = self._states.get(tenant_id)
            if state is None:
                continue
            if (live := self._expire(state, now)) is not state:
                self._states[tenant_id] = state = live
            planned = domain.plan_start(state, now, self._settings.jitter_seconds)
            if planned is not None:
                all_emitted = await self._emit(planned, now) and all_emitted
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
            log.warning(
                "run %s of tenant %s never reported back; declared lost",
                state.in_flight.run_id,
                state.tenant.id,
            )
        return live

    async def _emit(self, planned: Planned, now: float) -> bool:
        command = planned.command
        try:
            await self._sink.start_sync(planned)
        except Exception as err:
            log.warning("could not emit run %s of %s: %r", command.run_id, command.tenant_id, err)
            return False
        log.info(
            "run %s of tenant %s emitted: %s (%s)",
            command.run_id,
            command.tenant_id,
            command.mode,
            command.reason,
        )
        current = self._states.get(command.tenant_id)
        if current is not None:
            self._states[command.tenant_id] = domain.mark_started(current, planned, now)
        return True

    def _pause(self, now: float) -> float:
        dues = [domain.next_due(s, self._settings.jitter_seconds) for s in self._states.values()]
        soonest = min([d for d in dues if d is not None] + [self._next_reconcile])
        return max(0.0, min(self._settings.tick_seconds, soonest - now))
