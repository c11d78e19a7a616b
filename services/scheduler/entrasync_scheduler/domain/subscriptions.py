"""When the scheduler asks the syncer to ensure or delete a tenant's Graph subscriptions.

An enabled near-real-time tenant keeps one subscription per notified type. The scheduler asks
for `ensure` when it first sees such a tenant (start-up) or a new version of it, when a
lifecycle event asks to reauthorize or recreate one, and in any check window in which the
records the syncer keeps (the `subscriptions` bucket) show a type without an active
subscription, one expiring within `Policy.renew_before`, a failure, or a type no longer
notified. Every other tenant with records gets `delete`. Ids derive from the tenant and the
reason (version, window, lifecycle ids), so replicas emit the same command and JetStream keeps
one.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from entrasync_shared.messages import ManageSubscriptions, SubscriptionAction, SubscriptionRecord

from entrasync_scheduler.domain.nrt import notified_types, wants_subscriptions
from entrasync_scheduler.domain.schedule import RUN_NAMESPACE, Policy, TenantSchedule


@dataclass(frozen=True)
class Receiver:
    """Where Graph posts: the receiver's public change and lifecycle notification URLs."""

    notification_url: str
    lifecycle_url: str

    @classmethod
    def at(cls, base_url: str) -> Receiver:
        base = base_url.rstrip("/")
        return cls(f"{base}/notifications", f"{base}/lifecycle")


NO_RECEIVER = Receiver("", "")
"""What a `delete` carries when no URL is configured (deleting needs none)."""


@dataclass(frozen=True)
class PlannedSubscriptions:
    command: ManageSubscriptions
    msg_id: str
    window: int


def check_window(now: float, policy: Policy) -> int:
    return int(now // policy.subscriptions_every)


def needs_care(
    records: Sequence[SubscriptionRecord], state: TenantSchedule, now: float, policy: Policy
) -> bool:
    """The records show something the syncer should fix: a notified type without an active,
    unexpired subscription, one expiring soon, a failure, or a type no longer notified."""
    types = notified_types(state.tenant)
    soon = datetime.fromtimestamp(now, UTC) + timedelta(seconds=policy.renew_before)
    for object_type in types:
        mine = [r for r in records if r.object_type == object_type]
        if not any(r.state == "active" and r.expires_at > soon for r in mine):
            return True
    return any(r.state != "active" or r.object_type not in types for r in records)


def plan_subscriptions(
    state: TenantSchedule,
    records: Sequence[SubscriptionRecord],
    now: float,
    policy: Policy,
    receiver: Receiver | None,
) -> PlannedSubscriptions | None:
    """The subscription command this tenant needs now, if any (`records`: its own)."""
    tenant, window = state.tenant, check_window(now, policy)
    fresh_version = state.subs_version != tenant.version
    if not wants_subscriptions(tenant):
        if not records or not (fresh_version or state.subs_window != window):
            return None
        tag = f"v{tenant.version}" if fresh_version else f"w{window}"
        return _planned(state, "delete", tag, now, policy, receiver or NO_RECEIVER, window)
    if receiver is None:
        return None
    if state.reauthorize or state.recreate:
        ids = sorted(state.reauthorize | state.recreate)
        digest = hashlib.sha256(" ".join(ids).encode()).hexdigest()[:16]
        tag = f"l{int(now // policy.coalesce)}.{digest}"
    elif fresh_version:
        tag = f"v{tenant.version}"
    elif state.subs_window != window and needs_care(records, state, now, policy):
        tag = f"w{window}"
    else:
        return None
    return _planned(state, "ensure", tag, now, policy, receiver, window)


def plan_removal(
    tenant_id: str, tag: str, now: float, policy: Policy, receiver: Receiver | None
) -> PlannedSubscriptions:
    """`delete` for a tenant config no longer has (deleted, or unknown records)."""
    return _command(
        tenant_id, "delete", tag, now, policy, receiver or NO_RECEIVER, check_window(now, policy)
    )


def mark_subscriptions_sent(state: TenantSchedule, planned: PlannedSubscriptions) -> TenantSchedule:
    command = planned.command
    return replace(
        state,
        subs_version=state.tenant.version,
        subs_window=planned.window,
        reauthorize=state.reauthorize - set(command.reauthorize),
        recreate=state.recreate - set(command.recreate),
    )


def _planned(
    state: TenantSchedule,
    action: SubscriptionAction,
    tag: str,
    now: float,
    policy: Policy,
    receiver: Receiver,
    window: int,
) -> PlannedSubscriptions:
    planned = _command(state.tenant.id, action, tag, now, policy, receiver, window)
    if action == "delete":
        return planned
    command = planned.command.model_copy(
        update={
            "object_types": notified_types(state.tenant),
            "reauthorize": tuple(sorted(state.reauthorize)),
            "recreate": tuple(sorted(state.recreate)),
        }
    )
    return replace(planned, command=command)


def _command(
    tenant_id: str,
    action: SubscriptionAction,
    tag: str,
    now: float,
    policy: Policy,
    receiver: Receiver,
    window: int,
) -> PlannedSubscriptions:
    name = f"{tenant_id}:subscriptions:{action}:{tag}"
    command = ManageSubscriptions(
        id=uuid.uuid5(RUN_NAMESPACE, name).hex,
        at=datetime.fromtimestamp(now, UTC),
        tenant_id=tenant_id,
        action=action,
        notification_url=receiver.notification_url,
        lifecycle_url=receiver.lifecycle_url,
        lifetime_seconds=int(policy.subscription_lifetime),
        renew_before_seconds=int(policy.renew_before),
    )
    return PlannedSubscriptions(command=command, msg_id=name, window=window)
