"""When each tenant syncs: pure decisions over plain data.

Time is epoch seconds (`now`), the same wall clock on every replica. Runs fall into slots of
`interval_seconds`; a tenant runs at once when first seen, then at the start of each later slot
plus a per-tenant jitter that every replica computes identically. Ids derive from tenant + slot,
so two replicas emit the same command and JetStream keeps one.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from entrasync_shared.messages import StartSync, SyncMode, SyncReason, SyncRecorded, Tenant

RUN_NAMESPACE: Final = uuid.UUID("6f1c1f4e-8d0a-4c55-9a43-3c0c2b1f5e10")
MAX_JITTER_SHARE: Final = 0.1  # jitter never exceeds a tenth of the interval


@dataclass(frozen=True)
class InFlight:
    run_id: str
    slot: int
    since: float


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


@dataclass(frozen=True)
class Planned:
    command: StartSync
    msg_id: str
    slot: int


def slot_of(now: float, interval_seconds: int) -> int:
    return int(now // interval_seconds)


def jitter_offset(tenant_id: str, interval_seconds: int, max_jitter: float) -> float:
    """A stable per-tenant offset in [0, max_jitter) that spreads tenants within a slot."""
    cap = min(max_jitter, interval_seconds * MAX_JITTER_SHARE)
    if cap <= 0:
        return 0.0
    fraction = int.from_bytes(hashlib.sha256(tenant_id.encode()).digest()[:4]) / 2**32
    return fraction * cap


def is_full_success(recorded: SyncRecorded) -> bool:
    return (
        recorded.status == "Succeeded"
        and bool(recorded.types)
        and all(t.mode == "full" for t in recorded.types)
    )


def track_tenant(current: TenantSchedule | None, tenant: Tenant, now: float) -> TenantSchedule:
    """Adopt a newer version of the tenant; an older one (late event, stale list) is ignored."""
    if current is None:
        return TenantSchedule(tenant=tenant, seen_at=now)
    if tenant.version < current.tenant.version:
        return current
    return replace(current, tenant=tenant, seen_at=now)


def record_run(state: TenantSchedule, recorded: SyncRecorded) -> TenantSchedule:
    """A run of this tenant ended: free the slot if it was ours; remember a full success."""
    in_flight = state.in_flight
    if in_flight is not None and in_flight.run_id == recorded.run_id:
        in_flight = None
    full_at = state.full_succeeded_at
    if is_full_success(recorded) and (full_at is None or recorded.finished_at > full_at):
        full_at = recorded.finished_at
    return replace(
        state,
        in_flight=in_flight,
        runs_seen=True,
        last_recorded_run=recorded.run_id,
        full_succeeded_at=full_at,
    )


def full_scan_pending(state: TenantSchedule) -> bool:
    """The tenant's flag, except that a full success we saw clears it until config re-sets it
    (config clears the stored flag asynchronously, so the flag we hold may be stale)."""
    done = state.full_succeeded_at
    return state.tenant.full_scan_next and (done is None or state.tenant.updated_at > done)


def choose_mode(state: TenantSchedule) -> tuple[SyncMode, SyncReason]:
    if not full_scan_pending(state):
        return "delta", "schedule"
    first = not state.runs_seen and state.tenant.version == 1
    return "full", "first" if first else "flag"


def next_due(state: TenantSchedule, max_jitter: float) -> float | None:
    """When the tenant should next run; None while disabled or a run is in flight."""
    tenant = state.tenant
    if not tenant.enabled or state.in_flight is not None:
        return None
    if state.last_slot_start is None:
        return -math.inf
    next_slot = slot_of(state.last_slot_start, tenant.interval_seconds) + 1
    return next_slot * tenant.interval_seconds + jitter_offset(
        tenant.id, tenant.interval_seconds, max_jitter
    )


def run_ids(tenant_id: str, interval_seconds: int, slot: int) -> tuple[str, str, str]:
    """(Nats-Msg-Id, command id, run id): identical on every replica for one slot."""
    name = f"{tenant_id}:{interval_seconds}:{slot}"
    command_id = uuid.uuid5(RUN_NAMESPACE, f"command:{name}").hex
    run_id = uuid.uuid5(RUN_NAMESPACE, f"run:{name}").hex
    return f"{tenant_id}:{slot}", command_id, run_id


def plan_start(state: TenantSchedule, now: float, max_jitter: float) -> Planned | None:
    """The command to emit now, if the tenant is due."""
    due = next_due(state, max_jitter)
    if due is None or due > now:
        return None
    tenant = state.tenant
    slot = slot_of(now, tenant.interval_seconds)
    msg_id, command_id, run_id = run_ids(tenant.id, tenant.interval_seconds, slot)
    mode, reason = choose_mode(state)
    command = StartSync(
        id=command_id,
        at=datetime.fromtimestamp(slot * tenant.interval_seconds, UTC),
        run_id=run_id,
        tenant_id=tenant.id,
        mode=mode,
        reason=reason,
        object_types=tenant.object_types,
    )
    return Planned(command=command, msg_id=msg_id, slot=slot)


def mark_started(state: TenantSchedule, planned: Planned, now: float) -> TenantSchedule:
    """The command is on the queue; its run is in flight unless it already reported back."""
    run_id = planned.command.run_id
    finished = state.last_recorded_run == run_id
    return replace(
        state,
        last_slot_start=float(planned.slot * state.tenant.interval_seconds),
        in_flight=None if finished else InFlight(run_id=run_id, slot=planned.slot, since=now),
    )


def expire_lost_run(state: TenantSchedule, now: float, lost_after: float) -> TenantSchedule:
    """Declare an in-flight run lost once it has not reported back for `lost_after` seconds."""
    if state.in_flight is None or now - state.in_flight.since < lost_after:
        return state
    return replace(state, in_flight=None)


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
