"""When each tenant syncs: pure decisions over plain data (no I/O, no awaits).

Time is epoch seconds (`now`), the same wall clock on every replica. Runs fall into slots of the
tenant's interval; a tenant runs at once when first seen (or enabled again, or asked to), then
at the start of each later slot plus a per-tenant jitter that every replica computes
identically. A command's ids derive from tenant + slot (+ a tag for an extra run within a slot),
so two replicas emit the same command and JetStream keeps one.
"""

from entrasync_scheduler.domain.nrt import notified_types, polled_types, wants_subscriptions
from entrasync_scheduler.domain.planning import (
    choose_mode,
    full_scan_pending,
    next_due,
    periodic_full_due,
    plan_start,
    run_ids,
    slot_types,
)
from entrasync_scheduler.domain.schedule import (
    LINK_REFRESH_SECONDS,
    Force,
    InFlight,
    Planned,
    Policy,
    TenantSchedule,
    expire_lost_run,
    force_run,
    interval_of,
    jitter_offset,
    mark_busy,
    mark_started,
    needs_resync,
    reconcile,
    record_run,
    slot_of,
    track_tenant,
)
from entrasync_scheduler.domain.subscriptions import (
    NO_RECEIVER,
    PlannedSubscriptions,
    Receiver,
    check_window,
    mark_subscriptions_sent,
    needs_care,
    plan_removal,
    plan_subscriptions,
)
from entrasync_scheduler.domain.targeted import (
    plan_targeted,
    take_notification,
    targeted_due,
    wanted_types,
    window_of,
)

__all__ = [
    "LINK_REFRESH_SECONDS",
    "NO_RECEIVER",
    "Force",
    "InFlight",
    "Planned",
    "PlannedSubscriptions",
    "Policy",
    "Receiver",
    "TenantSchedule",
    "check_window",
    "choose_mode",
    "expire_lost_run",
    "force_run",
    "full_scan_pending",
    "interval_of",
    "jitter_offset",
    "mark_busy",
    "mark_started",
    "mark_subscriptions_sent",
    "needs_care",
    "needs_resync",
    "next_due",
    "notified_types",
    "periodic_full_due",
    "plan_removal",
    "plan_start",
    "plan_subscriptions",
    "plan_targeted",
    "polled_types",
    "reconcile",
    "record_run",
    "run_ids",
    "slot_of",
    "slot_types",
    "take_notification",
    "targeted_due",
    "track_tenant",
    "wanted_types",
    "wants_subscriptions",
    "window_of",
]
