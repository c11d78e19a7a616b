"""Change-notification delivery: per-tenant delay and loss switches, Graph's retries.

The tests move the simulated clock, so each takes a fresh Graph token and sets expiries from
the simulated now (the module's simulator is its own).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from entrasync_sim.control_client import ControlError, SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from sim_helpers import Receiver, acquire_graph_token, eventually, graph_client, webhook_receiver

FOUR_HOURS = 4 * 3600


@pytest.fixture
def graph(sim: SimulatorProcess, tenant: dict[str, str]) -> Iterator[httpx.Client]:
    token = acquire_graph_token(sim, tenant, tenant["tenant_id"])
    with graph_client(sim, token) as client:
        yield client
    # Gone subscriptions stop their pending retries: the next test starts quiet. (A fresh
    # token: the test may have moved the clock past the first one's expiry.)
    token = acquire_graph_token(sim, tenant, tenant["tenant_id"])
    with graph_client(sim, token) as client:
        for subscription in client.get("/v1.0/subscriptions").json()["value"]:
            client.delete(f"/v1.0/subscriptions/{subscription['id']}")


@pytest.fixture
def tid(tenant: dict[str, Any], control: SimulatorControl) -> Iterator[str]:
    tenant_id = str(tenant["tenant_id"])
    yield tenant_id
    control.set_notification_delivery(tenant_id)


def _subscribe(graph: httpx.Client, control: SimulatorControl, receiver: Receiver) -> str:
    now = datetime.fromisoformat(control.now().replace("Z", "+00:00"))
    expires = (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "changeType": "updated,deleted",
        "notificationUrl": receiver.url,
        "resource": "users",
        "expirationDateTime": expires,
        "clientState": "s3cret",
    }
    response = graph.post("/v1.0/subscriptions", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _touch(control: SimulatorControl, tid: str, count: int) -> list[str]:
    """Create `count` users, one change notification each; their ids in order."""
    return [control.create(tid, "users", {"displayName": f"U{i}"})["id"] for i in range(count)]


def _delivered_ids(receiver: Receiver) -> list[str]:
    return [i["resourceData"]["id"] for p in receiver.received() for i in p["body"]["value"]]


def _entries(control: SimulatorControl, tid: str, url: str) -> list[dict[str, Any]]:
    return [e for e in control.notifications(tid) if e["url"] == url and e["kind"] == "change"]


def _wait_entries(
    control: SimulatorControl, tid: str, url: str, count: int, within: float = 10.0
) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        found = _entries(control, tid, url)
        return found if len(found) >= count else None

    return eventually(enough, f"{count} delivery log entries", within)


def test_a_delay_holds_the_tenants_notifications_back(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
        switch = control.set_notification_delivery(tid, delay=1.5)
        started = time.monotonic()
        [user] = _touch(control, tid, 1)
        eventually(lambda: _delivered_ids(receiver) or None, "the delayed notification")
        waited = time.monotonic() - started

    assert switch["delay"] == 1.5
    assert _delivered_ids(receiver) == [user]
    assert waited >= 1.5


def test_drop_next_loses_exactly_the_next_notifications(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
        control.set_notification_delivery(tid, drop_next=2)
        users = _touch(control, tid, 3)
        entries = _wait_entries(control, tid, receiver.url, 3)
        eventually(lambda: _delivered_ids(receiver) or None, "the third notification")

    assert _delivered_ids(receiver) == [users[2]]
    assert [(e["status"], e.get("reason")) for e in entries] == [
        ("dropped", "loss"),
        ("dropped", "loss"),
        (202, None),
    ]
    assert control.notification_delivery(tid)["lost"] == 2


def test_a_loss_of_one_loses_every_notification(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
        control.set_notification_delivery(tid, loss=1.0)
        _touch(control, tid, 5)
        entries = _wait_entries(control, tid, receiver.url, 5)

    assert receiver.received() == []
    assert {e["status"] for e in entries} == {"dropped"}


def test_a_seeded_loss_loses_the_same_notifications_every_run(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    def lost_positions() -> list[int]:
        control.set_notification_delivery(tid, loss=0.5, seed=7)
        before = len(_entries(control, tid, receiver.url))
        users = _touch(control, tid, 20)
        entries = _wait_entries(control, tid, receiver.url, before + 20)[before:]
        lost = {
            e["body"]["value"][0]["resourceData"]["id"] for e in entries if e["status"] == "dropped"
        }
        return [n for n, user in enumerate(users) if user in lost]

    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
        first, second = lost_positions(), lost_positions()

    assert first == second
    assert 0 < len(first) < 20


def test_the_switches_refuse_bad_values(control: SimulatorControl, tid: str) -> None:
    for bad in ({"loss": 1.5}, {"delay": -1}, {"drop_next": -1}, {"loss": True}):
        with pytest.raises(ControlError) as refused:
            control.set_notification_delivery(tid, **bad)
        assert refused.value.status == 400


def test_a_failed_delivery_is_retried_after_a_backoff_on_the_simulated_clock(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
        receiver.status = 503
        [user] = _touch(control, tid, 1)
        [failed] = _wait_entries(control, tid, receiver.url, 1)
        receiver.status = 202
        control.advance_clock(5)
        entries = _wait_entries(control, tid, receiver.url, 2)

    assert (failed["status"], failed["attempt"]) == (503, 1)
    assert (entries[1]["status"], entries[1]["attempt"]) == (202, 2)
    assert entries[1]["body"] == failed["body"]
    assert _delivered_ids(receiver) == [user, user]


def test_a_receiver_slower_than_three_seconds_fails_the_attempt(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
        receiver.stall = 3.5
        _touch(control, tid, 1)
        [slow] = _wait_entries(control, tid, receiver.url, 1)
        receiver.stall = 0.0
        control.advance_clock(5)
        entries = _wait_entries(control, tid, receiver.url, 2)

    assert slow["status"] == "ReadTimeout"
    assert (entries[1]["status"], entries[1]["attempt"]) == (202, 2)


def test_a_receiver_trickling_its_answer_past_three_seconds_fails_the_attempt(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
        receiver.trickle = True
        _touch(control, tid, 1)
        [slow] = _wait_entries(control, tid, receiver.url, 1)
        receiver.trickle = False

    assert slow["status"] == "Timeout"


def test_an_unreachable_receiver_is_retried(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
    _touch(control, tid, 1)
    [refused] = _wait_entries(control, tid, receiver.url, 1)
    control.advance_clock(5)
    entries = _wait_entries(control, tid, receiver.url, 2)

    assert refused["status"] == "ConnectError"
    assert (entries[1]["status"], entries[1]["attempt"]) == ("ConnectError", 2)


def test_retries_back_off_and_stop_after_four_hours(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
        receiver.status = 500
        _touch(control, tid, 1)
        entries = _wait_entries(control, tid, receiver.url, 1)
        while entries[-1]["status"] != "discarded":
            control.advance_clock(1800)
            entries = _wait_entries(control, tid, receiver.url, len(entries) + 1)

    attempts = entries[:-1]
    assert [e["attempt"] for e in attempts] == list(range(1, len(attempts) + 1))
    assert {e["status"] for e in attempts} == {500}
    assert entries[-1]["reason"] == "not delivered within the 4-hour retry window"
    moments = [datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in attempts]
    # Each step moved the clock 30 min, at least every backoff: one attempt a step.
    assert (moments[-1] - moments[0]).total_seconds() <= FOUR_HOURS + 5
    assert len(attempts) == 9
    assert len(receiver.received()) == len(attempts)


@pytest.fixture
def throttling(control: SimulatorControl) -> Iterator[None]:
    # Graph's numbers (100 responses, 2.9 s) scaled down so a test can reach them quickly.
    control.set_notification_throttling(
        slow_after=0.5, min_responses=4, flag_share=0.5, drop_share=0.75
    )
    yield
    control.set_notification_throttling()


def _make_slow(control: SimulatorControl, tid: str, receiver: Receiver) -> None:
    """Four answered notifications, two of them slow: half slow, the endpoint is flagged."""
    # Wide margins (1 s against 0.5 s) keep a loaded machine from counting a quick one slow.
    for n, stall in enumerate((1.0, 1.0, 0.0, 0.0), start=1):
        receiver.stall = stall
        _touch(control, tid, 1)
        _wait_entries(control, tid, receiver.url, n)


def test_a_slow_endpoint_is_throttled_and_its_notifications_held_back_ten_minutes(
    graph: httpx.Client, control: SimulatorControl, tid: str, throttling: None
) -> None:
    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
        _make_slow(control, tid, receiver)
        [held] = _touch(control, tid, 1)
        entries = _wait_entries(control, tid, receiver.url, 5)
        delivered_before = _delivered_ids(receiver)
        control.advance_clock(600)
        entries = _wait_entries(control, tid, receiver.url, 6)

    assert (entries[4]["status"], entries[4]["reason"]) == (
        "delayed",
        "endpoint throttled as slow: held back",
    )
    assert held not in delivered_before
    assert entries[5]["status"] == 202
    assert _delivered_ids(receiver)[-1] == held


def test_a_throttled_endpoint_too_slow_loses_its_notifications(
    graph: httpx.Client, control: SimulatorControl, tid: str, throttling: None
) -> None:
    control.set_notification_throttling(
        slow_after=0.5, min_responses=4, flag_share=0.5, drop_share=0.5
    )
    with webhook_receiver() as receiver:
        _subscribe(graph, control, receiver)
        _make_slow(control, tid, receiver)
        _touch(control, tid, 1)
        entries = _wait_entries(control, tid, receiver.url, 5)

    assert (entries[4]["status"], entries[4]["reason"]) == (
        "dropped",
        "endpoint throttled as slow",
    )
    assert len(receiver.received()) == 4


def test_graphs_slow_endpoint_thresholds_are_the_default(control: SimulatorControl) -> None:
    assert control.notification_throttling() == {
        "enabled": True,
        "slow_after": 2.9,
        "min_responses": 100,
        "flag_share": 0.1,
        "drop_share": 0.15,
        "window": 600.0,
        "delay": 600.0,
    }
