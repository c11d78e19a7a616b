"""What a notification POST from Graph is, and whether it is accepted (pure: no I/O).

Graph posts a `changeNotificationCollection`, `{"value": [changeNotification, ...]}`, to a
subscription's `notificationUrl` (resource changes) or `lifecycleNotificationUrl` (items with a
`lifecycleEvent`); one POST may carry notifications of several subscriptions
(learn.microsoft.com/graph/change-notifications-delivery-webhooks, "Receive notifications";
.../change-notifications-lifecycle-events). Each item names its `subscriptionId`, the
subscription's `clientState` and `subscriptionExpirationDateTime`, and the directory's
`tenantId`.

An item is checked against the `SubscriptionRecord` the syncer wrote for its subscription: the
SHA-256 of its `clientState` must equal the record's (compared in constant time), its
`tenantId` the record's directory, and the subscription must not have expired. The POST's
verdict:

- any item whose `clientState` or `tenantId` does not match: **403**, nothing is published
  (whoever sent it does not hold the subscription's secret; Graph never does this);
- no item of a subscription we hold (unknown ids: deleted subscriptions, or one whose record
  is not written yet, which Graph's retry will find), or only expired ones: **404**, so Graph
  retries for a while and nothing is published;
- otherwise accepted: the items of subscriptions we hold are grouped by tenant, object type,
  kind and subscription (one `ChangeNotified` each); unknown and expired items among them are
  left out and counted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from entrasync_shared.messages import NOTIFICATION_KINDS, NotificationKind, SubscriptionRecord
from entrasync_shared.subjects import NotifiableType

MAX_BODY_BYTES: Final = 1024 * 1024
"""The largest POST body read (413 beyond): Graph's batches are far smaller."""
MAX_VALIDATION_TOKEN: Final = 4096
"""The longest `validationToken` echoed (400 beyond); Graph's are ~100 characters."""
MAX_ITEMS: Final = 1000
"""The most notifications one POST may carry (400 beyond)."""

Refusal = Literal[
    "malformed",  # 400: not a notification collection
    "too_large",  # 413: the body exceeds MAX_BODY_BYTES
    "forged",  # 403: a clientState or tenantId does not match its subscription
    "unknown_subscription",  # 404: no item of a subscription we hold
    "expired",  # 404: only items of expired subscriptions
    "rate_limited",  # 429: a tenant is over its rate
    "replayed",  # 409: the same body was accepted moments ago
    "unavailable",  # 503: NATS is unreachable; Graph retries
]
REFUSALS: Final[tuple[Refusal, ...]] = (
    "malformed",
    "too_large",
    "forged",
    "unknown_subscription",
    "expired",
    "rate_limited",
    "replayed",
    "unavailable",
)
STATUS: Final[Mapping[Refusal, int]] = {
    "malformed": 400,
    "too_large": 413,
    "forged": 403,
    "unknown_subscription": 404,
    "expired": 404,
    "rate_limited": 429,
    "replayed": 409,
    "unavailable": 503,
}
"""The HTTP status of each refusal (Graph retries any non-2xx for up to 4 hours)."""


class Refused(Exception):
    """The POST is refused with `reason` (its HTTP status: `STATUS[reason]`); a rate-limited
    one says after how many seconds to retry."""

    def __init__(self, reason: Refusal, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Refusal = reason
        self.detail = detail
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return STATUS[self.reason]


@dataclass(frozen=True)
class Item:
    """One notification of a POST, as far as the receiver reads it."""

    subscription_id: str
    client_state: str | None
    tenant_id: str | None
    expires: datetime | None
    lifecycle_event: str | None

    @property
    def kind(self) -> NotificationKind | None:
        """`changed` for a resource notification, the lifecycle event otherwise (None for one
        this receiver does not know: accepted, and left out)."""
        if self.lifecycle_event is None:
            return "changed"
        for kind in NOTIFICATION_KINDS:
            if kind != "changed" and kind == self.lifecycle_event:
                return kind
        return None


def body_digest(body: bytes) -> str:
    """The replay key of a body: its SHA-256 in hex."""
    return hashlib.sha256(body).hexdigest()


def client_state_sha256(client_state: str) -> str:
    """What `SubscriptionRecord.client_state_sha256` holds for `client_state`."""
    return hashlib.sha256(client_state.encode()).hexdigest()


def _text(value: Any, field: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise Refused("malformed", f"{field} must be a non-empty string")
    return value


def _time(value: Any) -> datetime | None:
    text = _text(value, "subscriptionExpirationDateTime")
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Refused("malformed", "subscriptionExpirationDateTime is no timestamp") from None
    if parsed.tzinfo is None:
        raise Refused("malformed", "subscriptionExpirationDateTime has no time zone")
    return parsed


def _item(value: Any) -> Item:
    if not isinstance(value, dict):
        raise Refused("malformed", "each notification must be an object")
    subscription_id = _text(value.get("subscriptionId"), "subscriptionId", required=True)
    assert subscription_id is not None
    return Item(
        subscription_id=subscription_id,
        client_state=_text(value.get("clientState"), "clientState"),
        tenant_id=_text(value.get("tenantId"), "tenantId"),
        expires=_time(value.get("subscriptionExpirationDateTime")),
        lifecycle_event=_text(value.get("lifecycleEvent"), "lifecycleEvent"),
    )


def parse_batch(body: bytes) -> tuple[Item, ...]:
    """The notifications of a POST body; `Refused("malformed")` unless it is a JSON object
    whose `value` is a non-empty list (at most `MAX_ITEMS`) of notifications."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused("malformed", "the body is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("value"), list):
        raise Refused("malformed", 'the body is not {"value": [...]}')
    values = document["value"]
    if not values or len(values) > MAX_ITEMS:
        raise Refused("malformed", f"a POST carries 1 to {MAX_ITEMS} notifications")
    return tuple(_item(value) for value in values)


ItemVerdict = Literal["ok", "forged", "unknown_subscription", "expired", "unknown_event"]


def judge_item(item: Item, record: SubscriptionRecord | None, now: datetime) -> ItemVerdict:
    """One item against its subscription's record (None: we hold no such subscription)."""
    if record is None:
        return "unknown_subscription"
    presented = client_state_sha256(item.client_state or "")
    if item.client_state is None or not hmac.compare_digest(presented, record.client_state_sha256):
        return "forged"
    if (item.tenant_id or "").lower() != record.entra_tenant_id.lower():
        return "forged"
    expires = item.expires or record.expires_at
    if expires <= now:
        return "expired"
    if item.kind is None:
        return "unknown_event"
    return "ok"


@dataclass(frozen=True)
class Group:
    """The accepted items of one tenant, object type, kind and subscription."""

    tenant_id: str
    object_type: NotifiableType
    kind: NotificationKind
    subscription_id: str
    count: int


@dataclass(frozen=True)
class Verdict:
    """An accepted POST: what to publish, and the items left out (by verdict)."""

    groups: tuple[Group, ...]
    left_out: Mapping[ItemVerdict, int]

    @property
    def tenants(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.tenant_id for g in self.groups))


def judge(
    items: tuple[Item, ...], records: Mapping[str, SubscriptionRecord | None], now: datetime
) -> Verdict:
    """The POST's verdict (see the module's docstring); raises `Refused` for a refused one."""
    counts: dict[tuple[str, NotifiableType, NotificationKind, str], int] = {}
    left_out: dict[ItemVerdict, int] = {}
    for item in items:
        record = records.get(item.subscription_id)
        verdict = judge_item(item, record, now)
        if verdict == "forged":
            raise Refused("forged", f"subscription {item.subscription_id}")
        if verdict != "ok" or record is None or item.kind is None:
            left_out[verdict] = left_out.get(verdict, 0) + 1
            continue
        key = (record.tenant_id, record.object_type, item.kind, record.subscription_id)
        counts[key] = counts.get(key, 0) + 1
    if not counts and "unknown_event" not in left_out:
        unknown = "unknown_subscription" in left_out
        reason: Refusal = "unknown_subscription" if unknown else "expired"
        raise Refused(reason, f"{len(items)} notification(s) of no live subscription")
    groups = tuple(Group(*key, count=count) for key, count in counts.items())
    return Verdict(groups, left_out)


def message_id(digest: str, group: Group) -> str:
    """The `ChangeNotified` id (its Nats-Msg-Id) of one group of a body: the same on every
    replica and every retry, so the stream drops copies."""
    key = f"{digest}|{group.tenant_id}|{group.object_type}|{group.kind}|{group.subscription_id}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]
