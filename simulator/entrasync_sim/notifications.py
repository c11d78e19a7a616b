"""Change notifications: subscriptions, the validation handshake and delivery of changes.

Deliveries run in one background task per process, off the request path: a mutation only
queues its change. Every POST the simulator makes is written to a per-tenant log the control
API exposes, so tests can see what a receiver was sent and how it answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from entrasync_sim.clock import Clock, isoformat
from entrasync_sim.directory import Change
from entrasync_sim.tenants import Tenant

VALIDATION_TIMEOUT = 10.0
DELIVERY_TIMEOUT = 3.0
MAX_MINUTES = 41_760
_ODATA = {"users": "#Microsoft.Graph.User", "groups": "#Microsoft.Graph.Group"}
_LOG_LIMIT = 1000


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
    _queue: asyncio.Queue[tuple[Subscription, Change]] | None = None
    _worker: asyncio.Task[None] | None = None
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

    async def send_lifecycle(self, subscription: Subscription, event: str) -> None:
        assert subscription.lifecycle_url is not None
        item = {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": isoformat(subscription.expires),
            "tenantId": subscription.tenant_id,
            "clientState": subscription.client_state,
            "lifecycleEvent": event,
        }
        await self._post(subscription.tenant_id, subscription.lifecycle_url, "lifecycle", [item])

    def _changed(self, tenant: Tenant, change: Change) -> None:
        for subscription in self.of(tenant.tenant_id):
            if subscription.wants(change):
                self._ensure_worker().put_nowait((subscription, change))

    def _ensure_worker(self) -> asyncio.Queue[tuple[Subscription, Change]]:
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._deliver_forever())
        return self._queue

    async def _deliver_forever(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 100:
                batch.append(self._queue.get_nowait())
            by_url: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for subscription, change in batch:
                key = (subscription.tenant_id, subscription.notification_url)
                by_url.setdefault(key, []).append(_notification(subscription, change))
            for (tenant_id, url), items in by_url.items():
                await self._post(tenant_id, url, "change", items)

    async def _post(self, tenant_id: str, url: str, kind: str, items: list[Any]) -> None:
        body = {"value": items}
        try:
            response = await self._client().post(url, json=body, timeout=DELIVERY_TIMEOUT)
            status: int | str = response.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        self._record(tenant_id, url, kind, status, body)

    def _record(self, tenant_id: str, url: str, kind: str, status: Any, body: Any) -> None:
        log = self.logs.setdefault(tenant_id, [])
        log.append({"url": url, "kind": kind, "status": status, "body": body})
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
