"""Graph subscriptions of a near-real-time tenant: what to ask Graph for, what to keep, and how
to explain a refusal (no I/O).

Sources (microsoft-graph-docs-contrib, api-reference/v1.0): `resources/subscription.md`
(`changeType`: "User and group change notifications support updated and deleted changeType";
maximum expiry of users, groups and other directory resources: 41,760 minutes),
`api/subscription-post-subscriptions.md` (a failed validation handshake answers 400),
`api/subscription-update.md` (renew: PATCH `expirationDateTime`), `api/subscription-reauthorize.md`
(POST `/subscriptions/{id}/reauthorize`, 204), `api/subscription-delete.md`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from entrasync_shared.subjects import NotifiableType

CHANGE_TYPE: Final = "updated,deleted"
"""Creation, soft deletion and restore arrive as `updated`; `deleted` is a purge."""
Resource = Literal["users", "groups"]
RESOURCES: Final[dict[NotifiableType, Resource]] = {"user": "users", "group": "groups"}
NO_CLIENT_STATE: Final = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class GraphSubscription:
    """A subscription as Graph lists it."""

    id: str
    resource: str
    notification_url: str
    expires_at: datetime


def client_state_digest(client_state: str) -> str:
    return hashlib.sha256(client_state.encode()).hexdigest()


def failed_key(tenant_id: str, object_type: NotifiableType) -> str:
    """The record of a type whose subscription could not be created (no Graph id to key it)."""
    return f"failed.{tenant_id}.{object_type}"


def type_of(resource: str) -> NotifiableType | None:
    name = resource.strip("/").lower()
    for object_type, path in RESOURCES.items():
        if name == path:
            return object_type
    return None


def ours(listed: Sequence[GraphSubscription], notification_url: str) -> list[GraphSubscription]:
    """The subscriptions that post to our receiver (others of the same app are not ours)."""
    if not notification_url:
        return []
    return [s for s in listed if s.notification_url == notification_url]


def renewal_due(expires_at: datetime, now: datetime, renew_before: timedelta) -> bool:
    return expires_at - now <= renew_before


def explain(status: int, code: str, message: str, notification_url: str) -> str:
    """A refusal of Graph's subscriptions API, said so that an operator knows what to do."""
    said = f"{status} {code}: {message}".strip()
    lowered = message.lower()
    if status == 403 and ("maximum number of subscriptions" in lowered or "quota" in lowered):
        return f"Graph's subscription quota is reached ({said}); delete unused subscriptions"
    if status == 403:
        return (
            f"Graph refused ({said}): the app needs the User.Read.All and Group.Read.All "
            "application permissions, with admin consent"
        )
    if status == 400 and (code == "ValidationError" or "validation" in lowered):
        return (
            f"Graph could not validate the notification URL {notification_url} ({said}): the "
            "receiver must answer Graph's handshake at ENTRASYNC_NOTIFICATION_URL from the "
            "internet within 10 s"
        )
    return f"Graph refused the subscription ({said})"
