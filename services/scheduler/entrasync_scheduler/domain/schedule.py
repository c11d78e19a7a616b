"""What the scheduler knows of each tenant, and how events change it (runs recorded, started,
lost, forced; config's list merged in)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Literal

from entrasync_shared.messages import StartSync, SyncReason, SyncRecorded, Tenant

from entrasync_scheduler.domain.nrt import notified_types, polled_types

RUN_NAMESPACE: Final = uuid.UUID("6f1c1f4e-8d0a-4c55-9a43-3c0c2b1f5e10")
MAX_JITTER_SHARE: Final = 0.1  # jitter never exceeds a tenth of the interval
LINK_REFRESH_SECONDS: Final = 6 * 24 * 3600.0
"""Graph forgets a delta link unused for 7 days: no tenant waits longer than this between runs."""


@dataclass(frozen=True)
class Policy:
    """The scheduler's knobs, as the domain needs them."""

    max_jitter: float = 0.0
    refresh_links_after: float = LINK_REFRESH_SECONDS
    full_scan_every: float = 0.0  # 0: never force a periodic full scan
    nrt_poll: float = 3600.0  # near-real-time tenants poll notified types this often
    coalesce: float = 1.0  # at most one notification round per tenant per this many seconds
    subscriptions_every: float = 600.0  # how often subscriptions are looked after
    subscription_lifetime: float = 3 * 24 * 3600.0
    renew_before: float = 1.5 * 24 * 3600.0


DEFAULT_POLICY: Final = Policy()


@dataclass(frozen=True)
class InFlight:
    run_id: str
    key: str
    since: float


@dataclass(frozen=True)
class Force:
    """A run wanted at once; `tag` names it so every replica derives the same ids."""

    tag: str
    reason: SyncReason | None = None  # None: the usual rules decide the reason


@dataclass(frozen=True)
class TenantSchedule:
    """What this scheduler knows about one tenant."""

    tenant: Tenant
    seen_at: float
    last_slot_start: float | None = None
    in_flight: InFlight | None = None
    runs_seen: bool = False
    last_recorded_run: str | None = None
    full_succeeded_at: datetime | None = None
    resync_needed: bool = False
    force: Force | None = None
    busy_until: float = 0.0  # the queue holds another command of this tenant until about then
    # Near real time: notified types no run has covered yet, and since when.
    wanted: frozenset[str] = frozenset()
    wanted_last: float = 0.0  # when the latest notification came
    urgent: bool = False  # a `missed` lifecycle event: run without waiting for the window
    targeted_window: int | None = None  # coalescing window of the last notification round
    notified_polled_at: float | None = None  # last run that read every notified type
    others_polled_at: float | None = None  # last run that read every other type
    # Graph subscriptions: what was last asked of the syncer, and what lifecycle events ask.
    subs_version: int | None = None
    subs_window: int | None = None
    reauthorize: frozenset[str] = frozenset()
    recreate: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Planned:
    command: StartSync
    msg_id: str
    slot: int  # the slot, or for a notification round its coalescing window
    key: str
    kind: Literal["slot", "targeted"] = "slot"


def interval_of(tenant: Tenant, policy: Policy) -> int:
    """The tenant's slot interval, shortened so its delta links never reach Graph's expiry.

    A near-real-time tenant polls its notified types at the safety-net interval and its other
    types at its own: its slots come at the shorter of the two (`planning.slot_types` says
    which types each slot reads)."""
    seconds = float(tenant.interval_seconds)
    if notified_types(tenant):
        polled = polled_types(tenant)
        seconds = min(seconds, policy.nrt_poll) if polled else policy.nrt_poll
    return int(min(seconds, policy.refresh_links_after))


def slot_of(now: float, interval_seconds: int) -> int:
    return int(now // interval_seconds)


def jitter_offset(tenant_id: str, interval_seconds: int, max_jitter: float) -> float:
    """A stable per-tenant offset in [0, max_jitter) that spreads tenants within a slot."""
    cap = min(max_jitter, interval_seconds * MAX_JITTER_SHARE)
    if cap <= 0:
        return 0.0
    fraction = int.from_bytes(hashlib.sha256(tenant_id.encode()).digest()[:4]) / 2**32
    return fraction * cap


def needs_resync(recorded: SyncRecorded) -> bool:
    """A type's link was unusable and its full round failed too: the next run reads in full."""
    return any(t.reason == "resync" and t.status == "Failed" for t in recorded.types)


def track_tenant(current: TenantSchedule | None, tenant: Tenant, now: float) -> TenantSchedule:
    """Adopt a newer version of the tenant; an older one (late event, stale list) is ignored.

    A tenant enabled again runs at once, tagged by its version (every replica sees the same).
    """
    if current is None:
        return TenantSchedule(tenant=tenant, seen_at=now)
    if tenant.version < current.tenant.version:
        return current
    force = current.force
    if tenant.enabled and not current.tenant.enabled:
        force = Force(tag=f"v{tenant.version}")
    return replace(current, tenant=tenant, seen_at=now, force=force)


def record_run(
    state: TenantSchedule, recorded: SyncRecorded, policy: Policy = Policy()
) -> TenantSchedule:
    """A run of this tenant ended: free the slot if it was ours; remember what it tells.

    Runs other replicas (or `sync_now`) started count too: their slot is not run again here.
    """
    in_flight = state.in_flight
    if in_flight is not None and in_flight.run_id == recorded.run_id:
        in_flight = None
    full_at = state.full_succeeded_at
    if recorded.is_full_success() and (full_at is None or recorded.finished_at > full_at):
        full_at = recorded.finished_at
    interval = interval_of(state.tenant, policy)
    started = recorded.started_at.timestamp()
    notified_at, others_at = _polled(state, {t.object_type for t in recorded.types}, started)
    ran_in = float(slot_of(started, interval) * interval)
    last = state.last_slot_start
    if recorded.reason != "notification" and (last is None or ran_in > last):
        last = ran_in  # a notification round leaves the slots to the schedule
    return replace(
        state,
        in_flight=in_flight,
        runs_seen=True,
        last_recorded_run=recorded.run_id,
        full_succeeded_at=full_at,
        resync_needed=needs_resync(recorded) and not recorded.is_full_success(),
        last_slot_start=last,
        busy_until=0.0,  # a run ended: whatever waited for the queue looks again now
        notified_polled_at=notified_at,
        others_polled_at=others_at,
    )


def _polled(
    state: TenantSchedule, types: Iterable[str], started: float
) -> tuple[float | None, float | None]:
    """When every notified type, and every other type, was last read: moved on by a run that
    read them all."""
    read = set(types)
    notified = set(notified_types(state.tenant)) <= read
    others = set(polled_types(state.tenant)) <= read
    return (
        _later(state.notified_polled_at, started, notified),
        _later(state.others_polled_at, started, others),
    )


def _later(last: float | None, started: float, moved: bool) -> float | None:
    if not moved:
        return last
    return started if last is None or started > last else last


def mark_started(
    state: TenantSchedule,
    planned: Planned,
    now: float,
    policy: Policy = Policy(),
    *,
    fresh: bool = True,
) -> TenantSchedule:
    """The command is on the queue; its run is in flight unless it already reported back.

    The run covers the notifications heard until `now` (when it was planned), unless the queue
    already held it (`fresh` False: another replica queued it, maybe before them): those then
    wait for the next round.
    """
    command = planned.command
    finished = state.last_recorded_run == command.run_id
    in_flight = None if finished else InFlight(run_id=command.run_id, key=planned.key, since=now)
    types = set(command.object_types)
    # Notifications heard after the command was planned (while it was being queued) may be
    # of changes the run reads before they happen: they stay wanted.
    covered = fresh and state.wanted_last <= now
    wanted = state.wanted - types if covered else state.wanted
    notified_at, others_at = _polled(state, types, now)
    state = replace(
        state,
        in_flight=in_flight,
        busy_until=0.0,
        wanted=wanted,
        urgent=state.urgent and bool(wanted),
        notified_polled_at=notified_at,
        others_polled_at=others_at,
    )
    if planned.kind == "targeted":
        return replace(state, targeted_window=planned.slot)
    interval = interval_of(state.tenant, policy)
    return replace(state, last_slot_start=float(planned.slot * interval), force=None)


def mark_busy(state: TenantSchedule, now: float, recheck: float) -> TenantSchedule:
    """Another command of this tenant is queued or running (another replica's, a sync now):
    wait for it instead of adding a second run."""
    return replace(state, busy_until=now + recheck)


def force_run(state: TenantSchedule, tag: str, reason: SyncReason | None) -> TenantSchedule:
    """Run as soon as the tenant is free (at once when nothing is in flight)."""
    return replace(state, force=Force(tag=tag, reason=reason), busy_until=0.0)


def expire_lost_run(state: TenantSchedule, now: float, lost_after: float) -> TenantSchedule:
    """Declare an in-flight run lost once it has not reported back for `lost_after` seconds;
    its replacement runs at once, under ids of its own."""
    lost = state.in_flight
    if lost is None or now - lost.since < lost_after:
        return state
    return replace(state, in_flight=None, force=Force(tag=f"r{lost.run_id[:12]}"))


def reconcile(
    states: dict[str, TenantSchedule],
    listed: Iterable[Tenant],
    deleted: set[str],
    asked_at: float,
    now: float,
) -> dict[str, TenantSchedule]:
    """Merge config's full tenant list (requested at `asked_at`) into what we know.

    Tenants missing from the list are dropped unless we heard of them after asking (their
    creation may have raced the list); deleted tenants never come back.
    """
    merged: dict[str, TenantSchedule] = {}
    for tenant in listed:
        if tenant.id not in deleted:
            merged[tenant.id] = track_tenant(states.get(tenant.id), tenant, now)
    for tenant_id, state in states.items():
        if tenant_id not in merged and state.seen_at > asked_at:
            merged[tenant_id] = state
    return merged
