"""`make bench`'s near-real-time scenario, on the end-to-end step's tenant and processes.

The tenant is switched to near real time with an hourly poll; once its users and groups
subscriptions are active: single user changes spread over a minute (change -> public `updated`
event p50/p95, Graph requests per change, notification rounds), then a burst of changes within
5 seconds (the time until every event is published, counted from the burst's end, and the
notification rounds it took). The simulator posts its change notifications to the receiver on
loopback with no delivery delay; the scheduler turns them into coalesced delta rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Sequence
from typing import Any

from entrasync_shared.messages import (
    SubscriptionRecord,
    SyncRecordedEvent,
    SyncStarted,
    Tenant,
    TenantRef,
    TenantUpdate,
)
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from entrasync_sim.control_client import SimulatorControl
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nrt_figures import (
    IDENTITY_ENDPOINTS,
    Round,
    Scenario,
    counted_between,
    graph_requests,
    latency_figures,
    per_change,
    rounds_since,
)

POLL_SECONDS = 3600
EVENTS_WITHIN = 120.0  # after the last change: longer means the scenario is broken, not slow
QUIET_SECONDS = 3.0  # no run started or recorded for this long: the rounds are over
BURST_STEPS = 50


class TenantWatch:
    """The tenant's users' `updated` events (matched to the changes the bench made), and the
    runs the syncer started and history recorded."""

    def __init__(self, nc: NatsClient, names: Names, tenant_id: str) -> None:
        self.nc, self.names, self.tenant_id = nc, names, tenant_id
        self.changed_at: dict[str, float] = {}
        self.arrived_at: dict[str, float] = {}
        self.started: set[str] = set()
        self.recorded: list[Round] = []
        self.last_activity = time.monotonic()
        self._pending: set[str] = set()
        self._all_in = asyncio.Event()
        self._subs: list[Any] = []

    async def start(self) -> None:
        names, tenant = self.names, self.tenant_id
        updated = names.directory_event(tenant, "user", "updated")
        self._subs = [
            await self.nc.subscribe(updated, cb=self._on_updated, pending_msgs_limit=-1),
            await self.nc.subscribe(names.run_event(tenant, "started"), cb=self._on_started),
            await self.nc.subscribe(names.sync_recorded(tenant), cb=self._on_recorded),
        ]

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()

    def changed(self, user_ids: Sequence[str], at: float) -> None:
        for user_id in user_ids:
            self.changed_at[user_id] = at
        self._pending.update(user_ids)
        self._all_in.clear()

    def latencies(self, user_ids: Sequence[str]) -> list[float]:
        return [self.arrived_at[u] - self.changed_at[u] for u in user_ids if u in self.arrived_at]

    async def all_arrived(self, within: float) -> None:
        """Until every changed user's event came, or `within` seconds (some may never come)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_in.wait(), within)

    async def quiet(self, within: float = 120.0) -> bool:
        """Until every started run is recorded and nothing happened for QUIET_SECONDS (a
        notification round may still come a coalescing window after the last change); False
        when that did not happen within `within` s (the figures then say so, the bench goes on).
        """
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            done = self.started <= {r.run_id for r in self.recorded}
            if done and time.monotonic() - self.last_activity >= QUIET_SECONDS:
                return True
            await asyncio.sleep(0.1)
        return False

    async def _on_updated(self, msg: Msg) -> None:
        object_id = json.loads(msg.data)["data"]["object_id"]
        if object_id in self._pending:
            self.arrived_at[object_id] = time.monotonic()
            self._pending.discard(object_id)
            if not self._pending:
                self._all_in.set()

    async def _on_started(self, msg: Msg) -> None:
        self.started.add(SyncStarted.model_validate_json(msg.data).run_id)
        self.last_activity = time.monotonic()

    async def _on_recorded(self, msg: Msg) -> None:
        data = SyncRecordedEvent.model_validate_json(msg.data).data
        run = Round(data.run_id, data.reason, data.started_at.timestamp(), data.status)
        self.recorded.append(run)
        self.last_activity = time.monotonic()


class GraphCounter:
    """The simulator's count of the tenant's requests: fault rules that never fire (`after`
    is out of reach) but count every request they match."""

    def __init__(self, control: SimulatorControl, sim_tenant: str) -> None:
        self.control = control
        self.rules = {
            endpoint: control.inject_fault(endpoint, status=503, after=10**9, tenant_id=sim_tenant)
            for endpoint in ("*", "*/delta", *IDENTITY_ENDPOINTS)
        }

    def read(self) -> dict[str, int]:
        seen = {rule["id"]: rule["seen"] for rule in self.control.faults()}
        return {endpoint: seen[rule_id] for endpoint, rule_id in self.rules.items()}

    def remove(self) -> None:
        for rule_id in self.rules.values():
            self.control.remove_fault(rule_id)


async def enable(nc: NatsClient, names: Names, tenant_id: str) -> Tenant:
    """Near real time on, users and groups polled hourly (the safety net), the rest too."""
    current = await call(
        nc, names.api("config", "tenant.get"), TenantRef(tenant_id=tenant_id), Tenant
    )
    update = TenantUpdate(
        tenant_id=tenant_id,
        version=current.version,
        near_real_time=True,
        interval_seconds=POLL_SECONDS,
    )
    tenant: Tenant = await call(nc, names.api("config", "tenant.update"), update, Tenant)
    return tenant


async def subscribed(nc: NatsClient, names: Names, tenant_id: str, within: float = 120) -> float:
    """Wait until the tenant's users and groups subscriptions are active; seconds it took."""
    began = time.monotonic()
    while True:
        records = await call(
            nc,
            names.api("scheduler", "subscriptions.list"),
            TenantRef(tenant_id=tenant_id),
            list[SubscriptionRecord],
        )
        if {r.resource for r in records if r.state == "active"} >= {"users", "groups"}:
            return time.monotonic() - began
        if time.monotonic() - began > within:
            raise TimeoutError(f"subscriptions not active within {within:.0f} s: {records}")
        await asyncio.sleep(0.25)


def updates(user_ids: Sequence[str], tag: str) -> list[dict[str, Any]]:
    return [
        {"op": "update", "type": "user", "id": u, "attrs": {"jobTitle": f"{tag}-{n}"}}
        for n, u in enumerate(user_ids)
    ]


async def paced(
    control: SimulatorControl,
    sim_tenant: str,
    watch: TenantWatch,
    batches: Sequence[Sequence[str]],
    every: float,
    tag: str,
) -> float:
    """One mutation call per batch, `every` seconds apart (from the start); each change's
    clock starts before its call. Returns when the last call came back (monotonic)."""
    began = time.monotonic()
    for n, batch in enumerate(batches):
        wait = began + n * every - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        watch.changed(batch, time.monotonic())
        # In a thread: the event loop keeps timestamping events while the call is out.
        await asyncio.to_thread(control.mutate, sim_tenant, updates(batch, f"{tag}{n}"))
    return time.monotonic()


async def single_changes(
    control: SimulatorControl,
    sim_tenant: str,
    watch: TenantWatch,
    counter: GraphCounter,
    users: Sequence[str],
    spread_s: float,
) -> dict[str, Any]:
    before, since = counter.read(), time.time()
    ended = await paced(
        control, sim_tenant, watch, [[u] for u in users], spread_s / len(users), "nrt"
    )
    await watch.all_arrived(EVENTS_WITHIN)
    settled = await watch.quiet()
    seen = counted_between(before, counter.read())
    requests = graph_requests(seen)
    return {
        "changes": len(users),
        "spread_s": round(ended - watch.changed_at[users[0]], 1),
        **latency_figures(watch.latencies(users), len(users)),
        "graph_requests": requests,
        "delta_requests": seen["*/delta"],
        "requests_per_change": per_change(requests, len(users)),
        "rounds": len(rounds_since(watch.recorded, since)),
        "settled": settled,
    }


async def burst(
    control: SimulatorControl,
    sim_tenant: str,
    watch: TenantWatch,
    counter: GraphCounter,
    users: Sequence[str],
    burst_s: float,
) -> dict[str, Any]:
    step = -(-len(users) // BURST_STEPS)
    batches = [users[i : i + step] for i in range(0, len(users), step)]
    before, since = counter.read(), time.time()
    began = time.monotonic()
    ended = await paced(control, sim_tenant, watch, batches, burst_s / len(batches), "burst")
    await watch.all_arrived(EVENTS_WITHIN)
    last = max((watch.arrived_at[u] for u in users if u in watch.arrived_at), default=ended)
    settled = await watch.quiet()
    rounds = rounds_since(watch.recorded, since)
    requests = graph_requests(counted_between(before, counter.read()))
    figures = latency_figures(watch.latencies(users), len(users))
    return {
        "changes": len(users),
        "burst_s": round(ended - began, 2),
        **figures,
        # None when some never came: "all published" never happened.
        "all_published_s": round(last - ended, 2) if not figures["missing"] else None,
        "rounds": len(rounds),
        "rounds_failed": sum(r.status != "Succeeded" for r in rounds),
        "graph_requests": requests,
        "requests_per_change": per_change(requests, len(users)),
        "settled": settled,
    }


async def measure(
    nc: NatsClient,
    names: Names,
    control: SimulatorControl,
    tenant_id: str,
    sim_tenant: str,
    plan: Scenario,
) -> dict[str, Any]:
    """The scenario on a tenant synced already, with the receiver and the scheduler running."""
    watch = TenantWatch(nc, names, tenant_id)
    await watch.start()
    counter = GraphCounter(control, sim_tenant)
    try:
        await enable(nc, names, tenant_id)
        subscribe_s = await subscribed(nc, names, tenant_id)
        # Enabling may start a poll (the interval shrank): let it end before the clock runs.
        await watch.quiet()
        everyone = [u["id"] for u in control.truth(sim_tenant, "user")]
        users = random.Random(21).sample(everyone, min(plan.users_needed, len(everyone)))
        single = await single_changes(
            control, sim_tenant, watch, counter, users[: plan.changes], plan.spread_s
        )
        many = await burst(control, sim_tenant, watch, counter, users[plan.changes :], plan.burst_s)
    finally:
        counter.remove()
        await watch.stop()
    return {
        "poll_seconds": POLL_SECONDS,
        "subscriptions_active_s": round(subscribe_s, 1),
        "single": single,
        "burst": many,
    }
