"""Change notifications: subscriptions, the validation handshake and delivery of changes.

Deliveries run off the request path: a mutation only queues its change; one task batches
queued changes and hands each POST to its endpoint's lane (one task per tenant and URL, so a
slow receiver holds up only its own notifications, in order). A POST that fails is retried
on the simulated clock (`delivery.py`). Every POST the simulator makes, and every
notification it loses on purpose, is written to a per-tenant log the control API exposes.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import ipaddress
import itertools
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from entrasync_sim.clock import Clock, isoformat
from entrasync_sim.delivery import (
    RETRY_WINDOW,
    DeliverySwitch,
    SubscriptionQuotas,
    backoff,
)
from entrasync_sim.directory import Change
from entrasync_sim.tenants import Tenant

VALIDATION_TIMEOUT = 10.0
DELIVERY_TIMEOUT = 3.0
MAX_MINUTES = 41_760
_ODATA = {"users": "#Microsoft.Graph.User", "groups": "#Microsoft.Graph.Group"}
_LOG_LIMIT = 1000
_BATCH = 100
_RETRY_POLL = 0.05
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


@dataclass
class Subscription:
    """One Graph subscription of one app in one tenant."""

    id: str
    tenant_id: str
    app_id: str
    resource: str
    change_types: list[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires: datetime
    # From this moment on (after a reauthorizationRequired event) changes are not delivered
    # until the app reauthorizes or renews the subscription.
    paused_from: datetime | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.app_id,
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": isoformat(self.expires),
            "creatorId": self.app_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }

    def wants(self, change: Change) -> bool:
        if change.change_type not in self.change_types:
            return False
        parts = self.resource.strip("/").lower().split("/")
        if parts == [change.kind] and change.kind in _ODATA:
            return True
        if len(parts) == 2 and parts[0] == change.kind:
            return parts[1] == change.object_id
        return parts == ["groups", change.members_of or "", "members"]

    def paused(self, now: datetime) -> bool:
        return self.paused_from is not None and now >= self.paused_from


@dataclass
class Delivery:
    """One POST of a batch to one URL, with its attempt count and retry deadline."""

    tenant_id: str
    url: str
    kind: str
    items: list[dict[str, Any]]
    first_at: float  # simulated seconds of the first attempt's scheduling
    attempt: int = 1
    not_before: float = 0.0  # event-loop time: the tenant's delivery delay


def url_problem(url: str) -> str | None:
    """Why Graph would not call `url`; http is accepted for loopback receivers only."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname:
        if parts.hostname == "localhost":
            return None
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(parts.hostname).is_loopback:
                return None
    return f"The notification URL '{url}' must use https."


@dataclass
class Notifier:
    """Subscriptions of every tenant, and the deliveries made for them."""

    clock: Clock
    ca_file: str | None = None
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    switches: dict[str, DeliverySwitch] = field(default_factory=dict)
    quotas: SubscriptionQuotas = field(default_factory=SubscriptionQuotas)
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
        limits = [
            (
                sum(1 for s in live if s.app_id == app_id and s.tenant_id == tenant_id),
                self.quotas.per_app_and_tenant,
                "per app and tenant combination",
            ),
            (
                sum(1 for s in live if s.tenant_id == tenant_id),
                self.quotas.per_tenant,
                "per tenant",
            ),
            (sum(1 for s in live if s.app_id == app_id), self.quotas.per_app, "per app"),
        ]
        for count, limit, scope in limits:
            if count >= limit:
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
        """POST a lifecycle notification (documented shape), then apply its effect: a removed
        subscription is gone; one needing reauthorization stops delivering after `grace`."""
        assert subscription.lifecycle_url is not None
        item = {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": isoformat(subscription.expires),
            "tenantId": subscription.tenant_id,
            "clientState": subscription.client_state,
            "lifecycleEvent": event,
        }
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
        for subscription in self.of(tenant.tenant_id):
            if not subscription.wants(change):
                continue
            if subscription.paused(now):
                self._lose(subscription, change, "reauthorizationRequired")
                continue
            switch = self.switches.get(tenant.tenant_id)
            if switch is not None and switch.drops():
                self._lose(subscription, change, "loss")
                continue
            delay = switch.delay if switch is not None else 0.0
            self._ensure_worker().put_nowait((subscription, change, delay))

    def _lose(self, subscription: Subscription, change: Change, reason: str) -> None:
        body = {"value": [_notification(subscription, change)]}
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
                delivery.items.append(_notification(subscription, change))
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
        if delivery.kind == "change" and delivery.attempt > 1:
            # A retry carries only notifications of subscriptions still live.
            live = {s.id for s in self.of(delivery.tenant_id)}
            delivery.items = [i for i in delivery.items if i["subscriptionId"] in live]
            if not delivery.items:
                return
        body = {"value": delivery.items}
        status = await self._post(delivery.url, body)
        self._record(
            delivery.tenant_id, delivery.url, delivery.kind, status, body, delivery.attempt
        )
        if not (isinstance(status, int) and 200 <= status < 300):
            self._retry_later(delivery, body)

    def _retry_later(self, delivery: Delivery, body: dict[str, Any]) -> None:
        due = self.clock.seconds() + backoff(delivery.attempt)
        if due > delivery.first_at + RETRY_WINDOW:
            reason = "not delivered within the 4-hour retry window"
            self._record(
                delivery.tenant_id,
                delivery.url,
                delivery.kind,
                "discarded",
                body,
                delivery.attempt,
                reason,
            )
            return
        delivery.attempt += 1
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
            response = await self._client().post(url, json=body, timeout=DELIVERY_TIMEOUT)
        except httpx.HTTPError as exc:
            return type(exc).__name__
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


def _notification(subscription: Subscription, change: Change) -> dict[str, Any]:
    kind = change.kind
    resource = f"{kind.capitalize()}/{change.object_id}"
    return {
        "subscriptionId": subscription.id,
        "subscriptionExpirationDateTime": isoformat(subscription.expires),
        "changeType": change.change_type,
        "resource": resource,
        "resourceData": {
            "@odata.type": _ODATA.get(kind, "#Microsoft.Graph.DirectoryObject"),
            "@odata.id": resource,
            "id": change.object_id,
            "organizationId": subscription.tenant_id,
        },
        "clientState": subscription.client_state,
        "tenantId": subscription.tenant_id,
    }
