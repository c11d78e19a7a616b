"""Change notifications: validation handshake, deliveries with clientState, lifecycle events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from entrasync_sim.control_client import SimulatorControl
from sim_helpers import Receiver, eventually, webhook_receiver


def _in(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _subscribe(graph: httpx.Client, receiver: Receiver, **overrides: Any) -> httpx.Response:
    body = {
        "changeType": "updated,deleted",
        "notificationUrl": receiver.url,
        "lifecycleNotificationUrl": receiver.url + "/lifecycle",
        "resource": "users",
        "expirationDateTime": _in(60),
        "clientState": "s3cret",
        **overrides,
    }
    return graph.post("/v1.0/subscriptions", json=body)


def _changes(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        items = [i for post in receiver.received() for i in post["body"].get("value", [])]
        return items if len(items) >= count else None

    return eventually(enough, f"{count} notifications")


@pytest.fixture
def tid(tenant: dict[str, Any]) -> str:
    return str(tenant["tenant_id"])


def test_a_subscription_is_validated_then_notified_of_user_changes(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        created = _subscribe(graph, receiver)
        user = control.create(tid, "users", {"displayName": "Watched"})["id"]
        control.update(tid, "users", user, {"jobTitle": "Seen"})
        control.delete(tid, "users", user)
        control.delete(tid, "users", user, hard=True)
        items = _changes(receiver, 4)

    subscription = created.json()
    assert created.status_code == 201
    assert subscription["resource"] == "users"
    assert subscription["changeType"] == "updated,deleted"
    assert [i["changeType"] for i in items] == ["updated", "updated", "updated", "deleted"]
    assert {i["clientState"] for i in items} == {"s3cret"}
    assert {i["subscriptionId"] for i in items} == {subscription["id"]}
    assert items[0]["resourceData"]["id"] == user
    assert items[0]["resource"] == f"Users/{user}"
    assert items[0]["tenantId"] == tid
    log = control.notifications(tid)
    assert [e["kind"] for e in log[:2]] == ["validation", "validation"]


def test_group_subscriptions_hear_membership_changes(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    group = control.create(tid, "groups", {"displayName": "Watched group"})["id"]
    other = control.create(tid, "groups", {"displayName": "Ignored group"})["id"]
    user = control.create(tid, "users", {"displayName": "Joiner"})["id"]
    with webhook_receiver() as receiver:
        _subscribe(graph, receiver, resource=f"groups/{group}/members", changeType="updated")
        control.change_members(tid, other, add=[user])
        control.change_members(tid, group, add=[user])
        [item] = _changes(receiver, 1)

    assert item["resourceData"]["id"] == group
    assert item["changeType"] == "updated"


def test_a_receiver_that_fails_validation_gets_no_subscription(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver(validate=False) as receiver:
        response = _subscribe(graph, receiver)
        listed = graph.get("/v1.0/subscriptions").json()["value"]

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ValidationError"
    assert all(s["notificationUrl"] != receiver.url for s in listed)


@pytest.mark.parametrize(
    "overrides",
    [
        {"resource": "devices"},
        {"expirationDateTime": 41_761},  # minutes from now, resolved when the test runs
        {"expirationDateTime": -1},
        {"notificationUrl": "http://example.com/hook"},
        {"changeType": "exploded"},
    ],
)
def test_invalid_subscriptions_are_refused(graph: httpx.Client, overrides: dict[str, Any]) -> None:
    if "expirationDateTime" in overrides:
        overrides = {"expirationDateTime": _in(overrides["expirationDateTime"])}
    with webhook_receiver() as receiver:
        response = _subscribe(graph, receiver, **overrides)

    assert response.status_code == 400, response.text


def test_a_subscription_is_renewed_read_and_deleted(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        sid = _subscribe(graph, receiver).json()["id"]
        renewed = graph.patch(f"/v1.0/subscriptions/{sid}", json={"expirationDateTime": _in(600)})
        fetched = graph.get(f"/v1.0/subscriptions/{sid}")
        reauthorized = graph.post(f"/v1.0/subscriptions/{sid}/reauthorize")
        listed = control.subscriptions(tid)
        deleted = graph.delete(f"/v1.0/subscriptions/{sid}")
        missing = graph.get(f"/v1.0/subscriptions/{sid}")

    assert renewed.status_code == 200
    assert fetched.json()["expirationDateTime"] == renewed.json()["expirationDateTime"]
    assert reauthorized.status_code == 204
    assert sid in {s["id"] for s in listed}
    assert deleted.status_code == 204
    assert missing.status_code == 404


def test_a_lifecycle_event_asks_for_reauthorization(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        sid = _subscribe(graph, receiver, resource="groups").json()["id"]
        control.send_lifecycle_event(tid, sid)
        [item] = _changes(receiver, 1)
        [post] = receiver.received()

    assert post["path"] == "/hook/lifecycle"
    assert item["lifecycleEvent"] == "reauthorizationRequired"
    assert (item["subscriptionId"], item["clientState"]) == (sid, "s3cret")
