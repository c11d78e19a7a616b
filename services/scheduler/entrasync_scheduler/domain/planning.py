"""When a tenant is due and what its command says: slots, jitter, the run's mode and ids."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

from entrasync_shared.messages import StartSync, SyncMode, SyncReason
from entrasync_shared.subjects import ObjectType

from entrasync_scheduler.domain.nrt import notified_types, polled_types
from entrasync_scheduler.domain.schedule import (
    DEFAULT_POLICY,
    RUN_NAMESPACE,
    Planned,
    Policy,
    TenantSchedule,
    interval_of,
    jitter_offset,
    slot_of,
)


def full_scan_pending(state: TenantSchedule) -> bool:
    """The tenant's flag, except that a full success we saw clears it until config re-sets it
    (config clears the stored flag asynchronously, so the flag we hold may be stale)."""
    done = state.full_succeeded_at
    return state.tenant.full_scan_next and (done is None or state.tenant.updated_at > done)


def periodic_full_due(state: TenantSchedule, now: float, policy: Policy) -> bool:
    if policy.full_scan_every <= 0:
        return False
    done = state.full_succeeded_at
    since = done.timestamp() if done is not None else state.seen_at
    return now - since >= policy.full_scan_every


def choose_mode(
    state: TenantSchedule, now: float = 0.0, policy: Policy = DEFAULT_POLICY
) -> tuple[SyncMode, SyncReason]:
    """Full for the flag, after a failed resync, or when a periodic full scan is due; else delta.
    A forced run keeps its own reason (`manual`) whatever the mode."""
    forced = state.force.reason if state.force is not None else None
    if full_scan_pending(state):
        first = not state.runs_seen and state.tenant.version == 1
        return "full", forced or ("first" if first else "flag")
    if state.resync_needed:
        return "full", forced or "resync"
    if periodic_full_due(state, now, policy):
        return "full", forced or "periodic"
    if forced:
        return "delta", forced
    if state.tenant.interval_seconds > policy.refresh_links_after:
        return "delta", "refresh"
    return "delta", "schedule"


def next_due(state: TenantSchedule, policy: Policy) -> float | None:
    """When the tenant should next run; None while disabled or a run is in flight."""
    tenant = state.tenant
    if not tenant.enabled or state.in_flight is not None:
        return None
    if state.force is not None or state.last_slot_start is None:
        return state.busy_until or -math.inf
    interval = interval_of(tenant, policy)
    next_slot = slot_of(state.last_slot_start, interval) + 1
    due = next_slot * interval + jitter_offset(tenant.id, interval, policy.max_jitter)
    return max(due, state.busy_until)


def slot_types(
    state: TenantSchedule, now: float, mode: SyncMode, policy: Policy
) -> tuple[ObjectType, ...]:
    """A slot run reads every type, except that a near-real-time tenant reads its notified types
    (kept current by notification rounds) at the safety-net interval and its other types at its
    own interval; a full run reads them all."""
    tenant = state.tenant
    notified, polled = notified_types(tenant), polled_types(tenant)
    if mode == "full" or not notified or not polled:
        return tenant.object_types
    slack = interval_of(tenant, policy) / 2  # slots start a jitter later than runs recorded
    due_notified = _due(state.notified_polled_at, now, policy.nrt_poll - slack)
    due_polled = _due(state.others_polled_at, now, tenant.interval_seconds - slack)
    if due_notified == due_polled:
        return tenant.object_types
    return notified if due_notified else polled


def _due(last: float | None, now: float, every: float) -> bool:
    return last is None or now - last >= every


def run_ids(tenant_id: str, interval_seconds: int, key: str) -> tuple[str, str, str]:
    """(Nats-Msg-Id, command id, run id): identical on every replica for one slot and tag."""
    name = f"{tenant_id}:{interval_seconds}:{key}"
    command_id = uuid.uuid5(RUN_NAMESPACE, f"command:{name}").hex
    run_id = uuid.uuid5(RUN_NAMESPACE, f"run:{name}").hex
    return f"{tenant_id}:{key}", command_id, run_id


def plan_start(state: TenantSchedule, now: float, policy: Policy) -> Planned | None:
    """The command to emit now, if the tenant is due.

    The first run of a slot is keyed by the slot alone; an extra run within a slot that
    already ran (enabled again, sync now, a lost run replaced) adds its force's tag.
    """
    due = next_due(state, policy)
    if due is None or due > now:
        return None
    tenant = state.tenant
    interval = interval_of(tenant, policy)
    slot = slot_of(now, interval)
    used = state.last_slot_start is not None and slot <= slot_of(state.last_slot_start, interval)
    key = f"{slot}.{state.force.tag}" if used and state.force is not None else str(slot)
    msg_id, command_id, run_id = run_ids(tenant.id, interval, key)
    mode, reason = choose_mode(state, now, policy)
    command = StartSync(
        id=command_id,
        at=datetime.fromtimestamp(slot * interval, UTC),
        run_id=run_id,
        tenant_id=tenant.id,
        mode=mode,
        reason=reason,
        object_types=slot_types(state, now, mode, policy),
    )
    return Planned(command=command, msg_id=msg_id, slot=slot, key=key)
