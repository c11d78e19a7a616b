"""Subscriptions as Microsoft documents them: payload fields, lifecycle events and their
effects, quotas and the maximum expiry for users and groups.

The tests move the simulated clock and change process-wide quotas, so this module has its own
simulator (as every module does), takes a fresh Graph token per test and sets expiries from
the simulated now.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from sim_helpers import Receiver, acquire_graph_token, eventually, graph_client, webhook_receiver

LIFECYCLE_FIELDS = {
    "subscriptionId",
    "subscriptionExpirationDateTime",
    "tenantId",
    "clientState",
    "lifecycleEvent",
}
CHANGE_FIELDS = {
    "subscriptionId",
    "subscriptionExpirationDateTime",
    "changeType",
    "resource",
    "resourceData",
    "clientState",
    "tenantId",
}


@pytest.fixture
def graph(sim: SimulatorProcess, tenant: dict[str, str]) -> Iterator[httpx.Client]:
    with _graph_of(sim, tenant) as client:
        yield client
    with _graph_of(sim, tenant) as client:
        for subscription in client.get("/v1.0/subscriptions").json()["value"]:
            client.delete(f"/v1.0/subscriptions/{subscription['id']}")


@pytest.fixture
def tid(tenant: dict[str, Any], control: SimulatorControl) -> Iterator[str]:
    yield str(tenant["tenant_id"])
    control.set_subscription_quotas()


def _graph_of(sim: SimulatorProcess, tenant: dict[str, str]) -> httpx.Client:
    return graph_client(sim, acquire_graph_token(sim, tenant, tenant["tenant_id"]))


def _in(control: SimulatorControl, minutes: float) -> str:
    now = datetime.fromisoformat(control.now().replace("Z", "+00:00"))
    return (now + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _subscribe(
    graph: httpx.Client, control: SimulatorControl, receiver: Receiver, **overrides: Any
) -> httpx.Response:
    body = {
        "changeType": "updated,deleted",
        "notificationUrl": receiver.url,
        "lifecycleNotificationUrl": receiver.url + "/lifecycle",
        "resource": "users",
        "expirationDateTime": _in(control, 60),
        "clientState": "s3cret",
        **overrides,
    }
    return graph.post("/v1.0/subscriptions", json=body)


def _sid(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _items(receiver: Receiver, path: str = "/hook") -> list[dict[str, Any]]:
    return [i for p in receiver.received() if p["path"] == path for i in p["body"]["value"]]


def _arrived(receiver: Receiver, count: int, path: str = "/hook") -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        items = _items(receiver, path)
        return items if len(items) >= count else None

    return eventually(enough, f"{count} items at {path}")


def test_user_and_group_notifications_carry_the_documented_fields(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        users_sid = _sid(_subscribe(graph, control, receiver))
        groups_sid = _sid(_subscribe(graph, control, receiver, resource="groups"))
        user = control.create(tid, "users", {"displayName": "Documented"})["id"]
        group = control.create(tid, "groups", {"displayName": "Documented"})["id"]
        items = _arrived(receiver, 2)

    by_kind = {i["resourceData"]["@odata.type"]: i for i in items}
    for odata, sid, resource, object_id in (
        ("#Microsoft.Graph.User", users_sid, "Users", user),
        ("#Microsoft.Graph.Group", groups_sid, "Groups", group),
    ):
        item = by_kind[odata]
        assert set(item) == CHANGE_FIELDS
        assert item["subscriptionId"] == sid
        assert item["changeType"] == "updated"  # creation arrives as `updated`
        assert item["resource"] == f"{resource}/{object_id}"
        assert item["resourceData"]["@odata.id"] == f"{resource}/{object_id}"
        assert item["resourceData"]["id"] == object_id
        assert (item["tenantId"], item["clientState"]) == (tid, "s3cret")
        datetime.fromisoformat(item["subscriptionExpirationDateTime"].replace("Z", "+00:00"))


@pytest.mark.parametrize("event", ["reauthorizationRequired", "subscriptionRemoved", "missed"])
def test_lifecycle_notifications_carry_exactly_the_documented_fields(
    graph: httpx.Client, control: SimulatorControl, tid: str, event: str
) -> None:
    with webhook_receiver() as receiver:
        created = _subscribe(graph, control, receiver)
        control.send_lifecycle_event(tid, _sid(created), event)
        [item] = _arrived(receiver, 1, "/hook/lifecycle")

    assert set(item) == LIFECYCLE_FIELDS
    assert item["lifecycleEvent"] == event
    assert item["subscriptionId"] == created.json()["id"]
    assert item["subscriptionExpirationDateTime"] == created.json()["expirationDateTime"]
    assert (item["tenantId"], item["clientState"]) == (tid, "s3cret")


def test_a_removed_subscription_is_gone_and_hears_nothing_more(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        removed = _sid(_subscribe(graph, control, receiver))
        witness = _sid(_subscribe(graph, control, receiver))
        control.send_lifecycle_event(tid, removed, "subscriptionRemoved")
        fetched = graph.get(f"/v1.0/subscriptions/{removed}")
        listed = {s["id"] for s in graph.get("/v1.0/subscriptions").json()["value"]}
        control.create(tid, "users", {"displayName": "After removal"})
        # Both subscriptions share the URL, so their items would travel in one POST.
        items = _arrived(receiver, 1)

    assert fetched.status_code == 404
    assert listed == {witness}
    assert removed not in {s["id"] for s in control.subscriptions(tid)}
    assert [i["subscriptionId"] for i in items] == [witness]


def test_reauthorization_required_pauses_delivery_until_reauthorized(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        sid = _sid(_subscribe(graph, control, receiver))
        control.send_lifecycle_event(tid, sid, "reauthorizationRequired")
        lost = control.create(tid, "users", {"displayName": "While paused"})["id"]
        reauthorized = graph.post(f"/v1.0/subscriptions/{sid}/reauthorize")
        heard = control.create(tid, "users", {"displayName": "After"})["id"]
        items = _arrived(receiver, 1)

    assert reauthorized.status_code == 204
    assert [i["resourceData"]["id"] for i in items] == [heard]
    [dropped] = [e for e in control.notifications(tid) if e["status"] == "dropped"]
    assert dropped["reason"] == "reauthorizationRequired"
    assert dropped["body"]["value"][0]["resourceData"]["id"] == lost


def test_delivery_continues_for_the_grace_then_pauses_until_renewed(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        sid = _sid(_subscribe(graph, control, receiver))
        control.send_lifecycle_event(tid, sid, "reauthorizationRequired", grace=600)
        first = control.create(tid, "users", {"displayName": "In the grace"})["id"]
        _arrived(receiver, 1)
        control.advance_clock(601)
        control.create(tid, "users", {"displayName": "Paused"})
        renewed = graph.patch(
            f"/v1.0/subscriptions/{sid}", json={"expirationDateTime": _in(control, 120)}
        )
        last = control.create(tid, "users", {"displayName": "Renewed"})["id"]
        items = _arrived(receiver, 2)

    assert renewed.status_code == 200
    assert [i["resourceData"]["id"] for i in items] == [first, last]


def test_graphs_quotas_for_directory_subscriptions_are_the_default(
    control: SimulatorControl, tid: str
) -> None:
    assert control.subscription_quotas() == {
        "per_app_and_tenant": 100,
        "per_tenant": 1000,
        "per_app": 50_000,
    }


def test_the_hundred_and_first_subscription_of_an_app_in_a_tenant_is_refused(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        created = [
            _subscribe(graph, control, receiver, lifecycleNotificationUrl=None) for _ in range(100)
        ]
        refused = _subscribe(graph, control, receiver)

    assert {r.status_code for r in created} == {201}
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "ExtensionError"
    assert "per app and tenant combination: 100" in error["message"]


def test_quotas_count_per_tenant_across_apps_and_only_live_subscriptions(
    sim: SimulatorProcess,
    graph: httpx.Client,
    control: SimulatorControl,
    tid: str,
    tenant: dict[str, str],
) -> None:
    control.set_subscription_quotas(per_app_and_tenant=2, per_tenant=3)
    other_app = control.add_app(tid, certificate=False)
    with webhook_receiver() as receiver, _graph_of(sim, {**tenant, **other_app}) as other:
        first = [_sid(_subscribe(graph, control, receiver, expirationDateTime=_in(control, 30)))]
        first.append(_sid(_subscribe(graph, control, receiver)))
        per_app = _subscribe(graph, control, receiver)
        third = _sid(_subscribe(other, control, receiver))
        per_tenant = _subscribe(other, control, receiver)
        control.advance_clock(31 * 60)  # the first one expires
        after_expiry = _subscribe(other, control, receiver)
        for sid in (third, after_expiry.json().get("id")):
            other.delete(f"/v1.0/subscriptions/{sid}")

    assert per_app.status_code == per_tenant.status_code == 403
    assert "per app and tenant combination: 2" in per_app.json()["error"]["message"]
    assert "per tenant: 3" in per_tenant.json()["error"]["message"]
    assert after_expiry.status_code == 201, after_expiry.text


def test_a_directory_subscription_lasts_at_most_41760_minutes(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        longest = _subscribe(graph, control, receiver, expirationDateTime=_in(control, 41_760))
        sid = _sid(longest)
        renewed = graph.patch(
            f"/v1.0/subscriptions/{sid}", json={"expirationDateTime": _in(control, 41_761)}
        )

    assert renewed.status_code == 400
    assert "41760 minutes" in renewed.json()["error"]["message"]
