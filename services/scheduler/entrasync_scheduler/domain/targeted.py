"""Notification rounds: a near-real-time tenant's notified types read by a delta round soon after
Graph says they changed, coalesced.

Notifications only mark types as wanted; a round takes every wanted type at once. A tenant gets
at most one notification round per coalescing window (`Policy.coalesce`), and never one while
another run of it is in flight: notifications heard meanwhile wait and make one round after it.
The round's ids derive from the tenant, the window and the types, so replicas that heard
notifications of the same window emit the same command and JetStream keeps one.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

from entrasync_shared.messages import NotificationKind, StartSync
from entrasync_shared.subjects import ObjectType

from entrasync_scheduler.domain.nrt import notified_types
from entrasync_scheduler.domain.planning import run_ids
from entrasync_scheduler.domain.schedule import Planned, Policy, TenantSchedule, interval_of


def take_notification(
    state: TenantSchedule,
    object_type: str,
    kind: NotificationKind,
    subscription_id: str,
    now: float,
) -> TenantSchedule:
    """Want a round of `object_type`; lifecycle events also ask the syncer to reauthorize or
    recreate the subscription. A tenant that is not (or no longer) near real time ignores it."""
    if object_type not in notified_types(state.tenant):
        return state
    state = replace(state, wanted=state.wanted | {object_type}, wanted_last=now)
    if kind == "missed":
        return replace(state, urgent=True)
    if kind == "reauthorizationRequired":
        return replace(state, reauthorize=state.reauthorize | {subscription_id})
    if kind == "subscriptionRemoved":
        return replace(state, recreate=state.recreate | {subscription_id})
    return state


def window_of(now: float, policy: Policy) -> int:
    return int(now // policy.coalesce)


def wanted_types(state: TenantSchedule) -> tuple[ObjectType, ...]:
    """The notified types a round should read (in the tenant's order)."""
    return tuple(t for t in notified_types(state.tenant) if t in state.wanted)


def targeted_due(state: TenantSchedule, policy: Policy) -> float | None:
    """When the wanted round may go; None while nothing is wanted or a run is in flight."""
    if not wanted_types(state) or not state.tenant.enabled or state.in_flight is not None:
        return None
    if state.urgent or state.targeted_window is None:
        return state.busy_until or -math.inf
    return max((state.targeted_window + 1) * policy.coalesce, state.busy_until)


def plan_targeted(state: TenantSchedule, now: float, policy: Policy) -> Planned | None:
    """The notification round to emit now, if one is wanted and allowed."""
    due = targeted_due(state, policy)
    if due is None or due > now:
        return None
    tenant, types = state.tenant, wanted_types(state)
    window = window_of(now, policy)
    key = f"{'m' if state.urgent else 'n'}{window}.{'.'.join(types)}"
    msg_id, command_id, run_id = run_ids(tenant.id, interval_of(tenant, policy), key)
    command = StartSync(
        id=command_id,
        at=datetime.fromtimestamp(window * policy.coalesce, UTC),
        run_id=run_id,
        tenant_id=tenant.id,
        mode="delta",
        reason="notification",
        object_types=types,
    )
    return Planned(command=command, msg_id=msg_id, slot=window, key=key, kind="targeted")
