"""A Graph subscription and the notification items it is sent, as Microsoft documents them.

Change notification items: changeNotification.md (`subscriptionId`,
`subscriptionExpirationDateTime`, `changeType`, `resource`, `resourceData`, `clientState`,
`tenantId`) with resourceData.md's `@odata.type`, `@odata.id` and `id`, plus `organizationId`
(the tenant GUID), which directory notifications are seen to carry although resourceData.md
does not list it: receivers must tolerate extra fields. Lifecycle items:
change-notifications-lifecycle-events.md ("Structure of a lifecycle notification").
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from entrasync_sim.clock import isoformat
from entrasync_sim.directory import Change

MAX_MINUTES = 41_760
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
_ODATA = {"users": "#Microsoft.Graph.User", "groups": "#Microsoft.Graph.Group"}


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


def change_item(subscription: Subscription, change: Change) -> dict[str, Any]:
    """One change notification, as Graph sends it for a user or group."""
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


def lifecycle_item(subscription: Subscription, event: str) -> dict[str, Any]:
    """One lifecycle notification: exactly the documented five fields."""
    return {
        "subscriptionId": subscription.id,
        "subscriptionExpirationDateTime": isoformat(subscription.expires),
        "tenantId": subscription.tenant_id,
        "clientState": subscription.client_state,
        "lifecycleEvent": event,
    }
