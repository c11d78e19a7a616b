"""The receiver's pure decisions: reading a POST, judging each notification against its
subscription record, grouping what is published, and the per-tenant token bucket."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from entrasync_receiver.domain.notifications import (
    MAX_ITEMS,
    Refused,
    body_digest,
    client_state_sha256,
    judge,
    message_id,
    parse_batch,
)
from entrasync_receiver.domain.ratelimit import TenantRateLimit
from entrasync_shared.messages import SubscriptionRecord

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SECRET = "s3cret-client-state"
ENTRA = "84bd8158-6d4d-4958-8b9f-9d6445542f95"


def record(subscription_id: str = "sub-1", **changes: Any) -> SubscriptionRecord:
    fields: dict[str, Any] = {
        "subscription_id": subscription_id,
        "tenant_id": "t1",
        "entra_tenant_id": ENTRA,
        "object_type": "user",
        "resource": "users",
        "client_state_sha256": client_state_sha256(SECRET),
        "expires_at": NOW + timedelta(days=2),
        "updated_at": NOW,
    }
    fields.update(changes)
    return SubscriptionRecord.model_validate(fields)


def item(subscription_id: str = "sub-1", **changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "subscriptionId": subscription_id,
        "subscriptionExpirationDateTime": "2026-12-09T12:00:00Z",
        "changeType": "updated",
        "clientState": SECRET,
        "tenantId": ENTRA,
    }
    value.update(changes)
    return value


def batch(*items: dict[str, Any]) -> bytes:
    return json.dumps({"value": list(items)}).encode()


# -- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe",
        b"null",
        b'{"value": {}}',
        b'{"value": []}',
        b'{"value": ["x"]}',
        b'{"value": [{"subscriptionId": 7}]}',
        b'{"value": [{"subscriptionId": ""}]}',
        b'{"value": [{"subscriptionId": "a", "clientState": 1}]}',
        b'{"value": [{"subscriptionId": "a", "subscriptionExpirationDateTime": "soon"}]}',
        b'{"value": [{"subscriptionId": "a", "subscriptionExpirationDateTime": "2026-01-01"}]}',
        json.dumps({"value": [item()] * (MAX_ITEMS + 1)}).encode(),
    ],
)
def test_anything_but_a_notification_collection_is_malformed(body: bytes) -> None:
    with pytest.raises(Refused) as refused:
        parse_batch(body)
    assert (refused.value.reason, refused.value.status) == ("malformed", 400)


def test_a_collection_is_read_item_by_item() -> None:
    [changed, lifecycle] = parse_batch(batch(item(), item(lifecycleEvent="missed")))
    assert (changed.subscription_id, changed.kind, changed.client_state) == (
        "sub-1",
        "changed",
        SECRET,
    )
    assert changed.expires == datetime(2026, 12, 9, 12, 0, tzinfo=UTC)
    assert lifecycle.kind == "missed"
    [unknown] = parse_batch(batch(item(lifecycleEvent="somethingNew")))
    assert unknown.kind is None


# -- judging ------------------------------------------------------------------------------------


def test_items_of_held_subscriptions_are_grouped_by_tenant_type_and_kind() -> None:
    records = {"sub-1": record(), "sub-2": record("sub-2", object_type="group", resource="groups")}
    items = parse_batch(batch(item(), item(), item("sub-2"), item(lifecycleEvent="missed")))
    verdict = judge(items, records, NOW)
    found = {(g.object_type, g.kind, g.subscription_id): g.count for g in verdict.groups}
    assert found == {("user", "changed", "sub-1"): 2, ("group", "changed", "sub-2"): 1,
                     ("user", "missed", "sub-1"): 1}  # fmt: skip
    assert verdict.tenants == ("t1",)
    assert verdict.left_out == {}


@pytest.mark.parametrize(
    "forgery",
    [
        {"clientState": "guessed"},
        {"clientState": None},
        {"clientState": SECRET + " "},
        {"tenantId": "00000000-0000-0000-0000-000000000000"},
        {"tenantId": None},
    ],
)
def test_one_forged_item_refuses_the_whole_post(forgery: dict[str, Any]) -> None:
    items = parse_batch(batch(item(), item(**forgery)))
    with pytest.raises(Refused) as refused:
        judge(items, {"sub-1": record()}, NOW)
    assert (refused.value.reason, refused.value.status) == ("forged", 403)


def test_the_directory_guid_is_compared_without_case() -> None:
    items = parse_batch(batch(item(tenantId=ENTRA.upper())))
    assert judge(items, {"sub-1": record()}, NOW).groups


def test_unknown_or_expired_subscriptions_alone_are_not_found() -> None:
    unknown = parse_batch(batch(item("gone")))
    with pytest.raises(Refused) as refused:
        judge(unknown, {"gone": None}, NOW)
    assert (refused.value.reason, refused.value.status) == ("unknown_subscription", 404)
    expired = parse_batch(batch(item(subscriptionExpirationDateTime="2026-12-07T11:59:59Z")))
    with pytest.raises(Refused) as refused:
        judge(expired, {"sub-1": record()}, NOW)
    assert (refused.value.reason, refused.value.status) == ("expired", 404)


def test_unknown_and_expired_items_beside_live_ones_are_left_out() -> None:
    items = parse_batch(
        batch(item("gone"), item(), item(subscriptionExpirationDateTime="2026-12-07T11:00:00Z"))
    )
    verdict = judge(items, {"gone": None, "sub-1": record()}, NOW)
    assert [g.count for g in verdict.groups] == [1]
    assert verdict.left_out == {"unknown_subscription": 1, "expired": 1}


def test_an_unknown_lifecycle_event_is_accepted_and_left_out() -> None:
    verdict = judge(parse_batch(batch(item(lifecycleEvent="new"))), {"sub-1": record()}, NOW)
    assert verdict.groups == () and verdict.left_out == {"unknown_event": 1}


def test_message_ids_are_the_same_for_the_same_body_and_group_only() -> None:
    verdict = judge(parse_batch(batch(item())), {"sub-1": record()}, NOW)
    [group] = verdict.groups
    digest = body_digest(batch(item()))
    assert message_id(digest, group) == message_id(body_digest(batch(item())), group)
    assert message_id(digest, group) != message_id(body_digest(b"other"), group)
    assert len(message_id(digest, group)) == 32


# -- the rate limit ------------------------------------------------------------------------------


def test_a_tenant_gets_its_burst_then_its_rate() -> None:
    limit = TenantRateLimit(rate=2.0, burst=3)
    assert [limit.take(["a"], 0.0) for _ in range(3)] == [None, None, None]
    assert limit.take(["a"], 0.0) == 1  # half a second to the next token: Retry-After 1
    assert limit.take(["b"], 0.0) is None  # other tenants are not held back
    assert limit.take(["a"], 0.5) is None
    assert limit.take(["a"], 0.5) == 1


def test_a_refused_post_takes_no_token_from_any_tenant() -> None:
    limit = TenantRateLimit(rate=0.1, burst=1)
    assert limit.take(["a"], 0.0) is None
    assert limit.take(["b", "a"], 0.0) == 10
    assert limit.take(["b"], 0.0) is None  # b kept its token


def test_the_limiter_forgets_refilled_tenants_when_full() -> None:
    limit = TenantRateLimit(rate=1.0, burst=1, max_tenants=2)
    limit.take(["a"], 0.0)
    limit.take(["b"], 0.0)
    assert limit.take(["c"], 5.0) is None
    assert len(limit._buckets) == 1
