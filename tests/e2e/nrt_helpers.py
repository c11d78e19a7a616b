"""Helpers of the near-real-time end-to-end tests: a tenant with change notifications, its
subscriptions as the simulator and the syncer's records see them, its runs and events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from e2e_helpers import read_events, recorded, register
from entrasync_devtools.stack import ServiceStack
from entrasync_shared.messages import (
    SubscriptionRecord,
    Tenant,
    TenantRef,
    TenantUpdate,
)
from entrasync_shared.natsutil import call
from entrasync_sim.control_client import SimulatorControl
from nats.aio.client import Client as NatsClient
from nats.js.errors import BucketNotFoundError, NoKeysError


async def register_nrt(bus: NatsClient, stack: ServiceStack, app: Mapping[str, Any]) -> Tenant:
    """A near-real-time tenant over config's API, polled hourly (the scheduler's default)."""
    return await register(bus, stack, app, near_real_time=True)


async def update_tenant(
    bus: NatsClient, stack: ServiceStack, tenant_id: str, **changes: Any
) -> Tenant:
    current = await call(
        bus, stack.names.api("config", "tenant.get"), TenantRef(tenant_id=tenant_id), Tenant
    )
    update = TenantUpdate(tenant_id=tenant_id, version=current.version, **changes)
    return await call(bus, stack.names.api("config", "tenant.update"), update, Tenant)


def graph_subscriptions(
    control: SimulatorControl, sim_tenant: str, stack: ServiceStack
) -> dict[str, dict[str, Any]]:
    """The simulator's subscriptions posting to this stack's receiver, by resource."""
    url = f"{stack.receiver_url}/notifications"
    return {
        s["resource"]: s for s in control.subscriptions(sim_tenant) if s["notificationUrl"] == url
    }


async def records(bus: NatsClient, stack: ServiceStack, tenant_id: str) -> dict[str, Any]:
    """The syncer's subscription records of the tenant, by resource."""
    try:
        kv = await bus.jetstream().key_value(stack.names.subscription_bucket)
        keys = await kv.keys()
    except (BucketNotFoundError, NoKeysError):
        return {}
    found: dict[str, SubscriptionRecord] = {}
    for key in keys:
        entry = await kv.get(key)
        record = SubscriptionRecord.model_validate_json(entry.value or b"")
        if record.tenant_id == tenant_id:
            found[record.resource] = record
    return found


async def runs_by_reason(
    bus: NatsClient, stack: ServiceStack, tenant_id: str, reason: str, after: set[str]
) -> list[dict[str, Any]]:
    """The tenant's recorded runs of `reason` not in `after`, oldest first."""
    runs = await recorded(bus, stack, tenant_id)
    found = [r for run_id, r in runs.items() if r["reason"] == reason and run_id not in after]
    return sorted(found, key=lambda r: r["started_at"])


async def updated_events(
    bus: NatsClient, stack: ServiceStack, tenant_id: str, after_seq: int
) -> list[dict[str, Any]]:
    names = stack.names
    subject = names.directory_event(tenant_id, "user", "updated")
    return await read_events(bus.jetstream(), names.events_stream, subject, after_seq)
