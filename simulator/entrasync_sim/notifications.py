"""Change notifications: subscriptions, the validation handshake and delivery of changes.

Deliveries run off the request path: a mutation only queues its change; one task batches
queued changes and hands each POST to its endpoint's lane (one task per tenant and URL, so a
slow receiver holds up only its own notifications, in order). A POST that fails is retried on
the simulated clock (`delivery.py`); a slow endpoint is throttled (`slow_endpoints.py`). Every
POST the simulator makes, and every notification it loses, delays or gives up on, is written
to a per-tenant log the control API exposes.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from entrasync_sim.clock import Clock, isoformat
from entrasync_sim.delivery import (
    RETRY_WINDOW,
    Delivery,
    DeliverySwitch,
    SubscriptionQuotas,
    backoff,
)
from entrasync_sim.directory import Change
from entrasync_sim.slow_endpoints import SlowEndpoints
from entrasync_sim.subscriptions import Subscription, change_item, lifecycle_item
from entrasync_sim.tenants import Tenant

VALIDATION_TIMEOUT = 10.0
DELIVERY_TIMEOUT = 3.0
_LOG_LIMIT = 1000
_BATCH = 100
_RETRY_POLL = 0.05
_TIMEOUT_SLACK = 0.5


@dataclass
class Notifier:
    """Subscriptions of every tenant, and the deliveries made for them."""

    clock: Clock
    ca_file: str | None = None
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    switches: dict[str, DeliverySwitch] = field(default_factory=dict)
    quotas: SubscriptionQuotas = field(default_factory=SubscriptionQuotas)
    slow: SlowEndpoints = field(default_factory=SlowEndpoints)
    _queue: asyncio.Queue[tuple[Subscription, Change, float]] | None = None
    _worker: asyncio.Task[None] | None = None
    _lanes: dict[tuple[str, str], asyncio.Queue[Delivery]] = field(default_factory=dict)
    _lane_tasks: dict[tuple[str, str], asyncio.Task[None]] = field(default_factory=dict)
    _retries: list[tuple[float, int, Delivery]] = field(default_factory=list)
    _retry_task: asyncio.Task[None] | None = None
    _order: itertools.count[int] = field(default_factory=itertools.count)
    _http: httpx.AsyncClient | None = None

    def attach(self, tenant: Tenant) -> None:
        """Listen to a tenant's directory changes."""
        tenant.directory.listeners.append(lambda change: self._changed(tenant, change))

    def of(self, tenant_id: str, app_id: str | None = None) -> list[Subscription]:
        now = self.clock.now()
        return [
            s
            for s in self.subscriptions.values()
            if s.tenant_id == tenant_id
            and s.expires > now
            and (app_id is None or s.app_id == app_id)
        ]

    def log(self, tenant_id: str) -> list[dict[str, Any]]:
        return list(self.logs.get(tenant_id, []))

    def switch(self, tenant_id: str) -> DeliverySwitch:
        return self.switches.get(tenant_id) or DeliverySwitch()

    def quota_problem(self, tenant_id: str, app_id: str) -> str | None:
        """Which documented quota one more subscription of this app in this tenant exceeds."""
        live = [s for s in self.subscriptions.values() if s.expires > self.clock.now()]
        limits = (
            (
                [s for s in live if s.app_id == app_id and s.tenant_id == tenant_id],
                self.quotas.per_app_and_tenant,
                "per app and tenant combination",
            ),
            ([s for s in live if s.tenant_id == tenant_id], self.quotas.per_tenant, "per tenant"),
            ([s for s in live if s.app_id == app_id], self.quotas.per_app, "per app"),
        )
        for counted, limit, scope in limits:
            if len(counted) >= limit:
                return f"Maximum number of subscriptions has been reached ({scope}: {limit})"
        return None

    async def validate(self, tenant_id: str, url: str) -> str | None:
        """The validation handshake; None when the endpoint echoed the token in time."""
        token = f"Validation: Testing client application reachability {uuid.uuid4()}"
        try:
            response = await self._client().post(
                url,
                params={"validationToken": token},
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=VALIDATION_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            self._record(tenant_id, url, "validation", type(exc).__name__, None)
            return f"Subscription validation request failed: {type(exc).__name__}."
        self._record(tenant_id, url, "validation", response.status_code, token)
        if response.status_code != 200 or response.text != token:
            return (
                "Subscription validation request failed. Notification endpoint must respond "
                "with 200 OK to validation request."
            )
        return None

    async def send_lifecycle(
        self, subscription: Subscription, event: str, grace: float = 0.0
    ) -> None:
        """POST a lifecycle notification, then apply its effect: a removed subscription is
        gone; one needing reauthorization stops delivering `grace` seconds from now."""
        assert subscription.lifecycle_url is not None
        item = lifecycle_item(subscription, event)
        if event == "subscriptionRemoved":
            self.subscriptions.pop(subscription.id, None)
        elif event == "reauthorizationRequired":
            pause = self.clock.now() + timedelta(seconds=grace)
            if subscription.paused_from is None or pause < subscription.paused_from:
                subscription.paused_from = pause
        url = subscription.lifecycle_url
        delivery = Delivery(subscription.tenant_id, url, "lifecycle", [item], self.clock.seconds())
        await self._attempt(delivery)

    def _changed(self, tenant: Tenant, change: Change) -> None:
        now = self.clock.now()
        switch = self.switches.get(tenant.tenant_id)
        for subscription in self.of(tenant.tenant_id):
            if not subscription.wants(change):
                continue
            if subscription.paused(now):
                self._lose(subscription, change, "reauthorizationRequired")
            elif switch is not None and switch.drops():
                self._lose(subscription, change, "loss")
            else:
                delay = switch.delay if switch is not None else 0.0
                self._ensure_worker().put_nowait((subscription, change, delay))

    def _lose(self, subscription: Subscription, change: Change, reason: str) -> None:
        body = {"value": [change_item(subscription, change)]}
        url = subscription.notification_url
        self._record(subscription.tenant_id, url, "change", "dropped", body, 0, reason)

    def _ensure_worker(self) -> asyncio.Queue[tuple[Subscription, Change, float]]:
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._batch_forever())
        return self._queue

    async def _batch_forever(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < _BATCH:
                batch.append(self._queue.get_nowait())
            by_url: dict[tuple[str, str], Delivery] = {}
            for subscription, change, delay in batch:
                key = (subscription.tenant_id, subscription.notification_url)
                if key not in by_url:
                    by_url[key] = Delivery(*key, "change", [], self.clock.seconds())
                delivery = by_url[key]
                delivery.items.append(change_item(subscription, change))
                delivery.not_before = max(delivery.not_before, loop.time() + delay)
            for delivery in by_url.values():
                self._lane(delivery).put_nowait(delivery)

    def _lane(self, delivery: Delivery) -> asyncio.Queue[Delivery]:
        key = (delivery.tenant_id, delivery.url)
        if key not in self._lanes:
            self._lanes[key] = asyncio.Queue()
        task = self._lane_tasks.get(key)
        if task is None or task.done():
            lane = self._deliver_forever(self._lanes[key])
            self._lane_tasks[key] = asyncio.get_running_loop().create_task(lane)
        return self._lanes[key]

    async def _deliver_forever(self, lane: asyncio.Queue[Delivery]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            delivery = await lane.get()
            wait = delivery.not_before - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._attempt(delivery)

    async def _attempt(self, delivery: Delivery) -> None:
        if delivery.kind == "change" and not self._admit(delivery):
            return
        body = {"value": delivery.items}
        started = asyncio.get_running_loop().time()
        status = await self._post(delivery.url, body)
        took = asyncio.get_running_loop().time() - started
        if delivery.kind == "change":
            self.slow.record(delivery.url, took, self.clock.seconds())
        self._record(
            delivery.tenant_id, delivery.url, delivery.kind, status, body, delivery.attempt
        )
        if not (isinstance(status, int) and 200 <= status < 300):
            self._retry_later(delivery, body)

    def _admit(self, delivery: Delivery) -> bool:
        """Whether a change POST goes out now: only live subscriptions' items travel, and a
        throttled endpoint's notifications are held back 10 minutes once, or dropped."""
        live = {s.id for s in self.of(delivery.tenant_id)}
        delivery.items = [i for i in delivery.items if i["subscriptionId"] in live]
        if not delivery.items:
            return False
        verdict = self.slow.verdict(delivery.url, self.clock.seconds())
        if verdict == "send" or (verdict == "delay" and delivery.throttled):
            return True
        body = {"value": delivery.items}
        if verdict == "drop":
            reason = "endpoint throttled as slow"
            self._record(delivery.tenant_id, delivery.url, "change", "dropped", body, 0, reason)
            return False
        delivery.throttled = True
        reason = "endpoint throttled as slow: held back"
        self._record(delivery.tenant_id, delivery.url, "change", "delayed", body, 0, reason)
        self._schedule(delivery, self.clock.seconds() + self.slow.policy.delay)
        return False

    def _retry_later(self, delivery: Delivery, body: dict[str, Any]) -> None:
        wait = backoff(delivery.attempt)
        if delivery.kind == "change" and self.slow.flagged(delivery.url):
            wait = self.slow.policy.delay
        due = self.clock.seconds() + wait
        if due > delivery.first_at + RETRY_WINDOW:
            reason = "not delivered within the 4-hour retry window"
            tenant_id, url, kind, attempt = (
                delivery.tenant_id,
                delivery.url,
                delivery.kind,
                delivery.attempt,
            )
            self._record(tenant_id, url, kind, "discarded", body, attempt, reason)
            return
        delivery.attempt += 1
        self._schedule(delivery, due)

    def _schedule(self, delivery: Delivery, due: float) -> None:
        delivery.not_before = 0.0
        heapq.heappush(self._retries, (due, next(self._order), delivery))
        if self._retry_task is None or self._retry_task.done():
            self._retry_task = asyncio.get_running_loop().create_task(self._retry_forever())

    async def _retry_forever(self) -> None:
        # Polls the simulated clock, so `advance_clock` makes retries due at once.
        while self._retries:
            now = self.clock.seconds()
            while self._retries and self._retries[0][0] <= now:
                _, _, delivery = heapq.heappop(self._retries)
                self._lane(delivery).put_nowait(delivery)
            await asyncio.sleep(_RETRY_POLL)

    async def _post(self, url: str, body: dict[str, Any]) -> int | str:
        try:
            # httpx's timeout bounds each phase; the outer one bounds a receiver that
            # trickles its answer (Graph's client gives up after 3 s in all).
            async with asyncio.timeout(DELIVERY_TIMEOUT + _TIMEOUT_SLACK):
                response = await self._client().post(url, json=body, timeout=DELIVERY_TIMEOUT)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        except TimeoutError:
            return "Timeout"
        return response.status_code

    def _record(
        self,
        tenant_id: str,
        url: str,
        kind: str,
        status: Any,
        body: Any,
        attempt: int = 1,
        reason: str | None = None,
    ) -> None:
        log = self.logs.setdefault(tenant_id, [])
        entry = {"url": url, "kind": kind, "status": status, "body": body, "attempt": attempt}
        entry["at"] = isoformat(self.clock.now())
        if reason is not None:
            entry["reason"] = reason
        log.append(entry)
        del log[:-_LOG_LIMIT]

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            context = ssl.create_default_context()
            if self.ca_file:
                context.load_verify_locations(self.ca_file)
            self._http = httpx.AsyncClient(verify=context, trust_env=False)
        return self._http
