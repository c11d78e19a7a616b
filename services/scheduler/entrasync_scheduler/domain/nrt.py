"""Which of a tenant's object types Graph notifies about, and which stay on polling.

Graph change notifications cover users and groups (subscription.md: `user`, `group`); devices and
any other type keep their own polling interval.
"""

from __future__ import annotations

from entrasync_shared.messages import Tenant
from entrasync_shared.subjects import NOTIFIABLE_TYPES, ObjectType


def notified_types(tenant: Tenant) -> tuple[ObjectType, ...]:
    """The tenant's types that Graph notifies about, when it is near real time; else none."""
    if not tenant.near_real_time:
        return ()
    return tuple(t for t in tenant.object_types if t in NOTIFIABLE_TYPES)


def polled_types(tenant: Tenant) -> tuple[ObjectType, ...]:
    """The tenant's types that only polling keeps current."""
    notified = notified_types(tenant)
    return tuple(t for t in tenant.object_types if t not in notified)


def wants_subscriptions(tenant: Tenant) -> bool:
    """An enabled near-real-time tenant with users or groups keeps Graph subscriptions."""
    return tenant.enabled and bool(notified_types(tenant))
