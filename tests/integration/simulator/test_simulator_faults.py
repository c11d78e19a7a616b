"""Injected faults (status, Retry-After, latency, resets) and the resource-unit budget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from entrasync_sim.control_client import ControlError, SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from entrasync_sim.tls import client_ssl_context

USERS = "/v1.0/users/delta?$select=id"


@pytest.fixture(autouse=True)
def no_faults_left(control: SimulatorControl) -> Iterator[None]:
    yield
    control.clear_faults()
    control.set_throttling()


def _statuses(graph: httpx.Client, count: int, url: str = USERS) -> list[int]:
    return [graph.get(url).status_code for _ in range(count)]


def test_a_counted_429_carries_a_fractional_retry_after_then_service_resumes(
    graph: httpx.Client, control: SimulatorControl
) -> None:
    fault = control.inject_fault("users/delta", status=429, count=2, retry_after="2.128")

    first = graph.get(USERS)
    rest = _statuses(graph, 2)

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2.128"
    error = first.json()["error"]
    assert (error["code"], error["message"]) == ("TooManyRequests", "Please retry again later.")
    # throttling.md's sample: innerError carries "429" as code and status.
    assert (error["innerError"]["code"], error["innerError"]["status"]) == ("429", "429")
    assert error["innerError"]["request-id"] == first.headers["request-id"]
    assert rest == [429, 200]
    [rule] = control.faults()
    assert (rule["id"], rule["hits"], rule["seen"]) == (fault, 2, 3)


def test_after_lets_the_first_requests_through(
    graph: httpx.Client, control: SimulatorControl
) -> None:
    control.inject_fault("*/delta", status=503, after=2, count=1)

    statuses = _statuses(graph, 4, "/v1.0/devices/delta()")

    assert statuses == [200, 200, 503, 200]


def test_504_and_error_code_overrides(graph: httpx.Client, control: SimulatorControl) -> None:
    control.inject_fault("groups/delta", status=504, count=1, error_code="UnknownError")

    response = graph.get("/v1.0/groups/delta")

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "UnknownError"
    assert "Retry-After" not in response.headers


def test_a_probability_fires_reproducibly(graph: httpx.Client, control: SimulatorControl) -> None:
    runs = []
    for _ in range(2):
        control.inject_fault("users/delta", status=503, probability=0.5, seed=42)
        runs.append(_statuses(graph, 20))
        control.clear_faults()

    assert runs[0] == runs[1]
    assert 3 <= runs[0].count(503) <= 17


def test_latency_delays_the_answer(graph: httpx.Client, control: SimulatorControl) -> None:
    control.inject_fault("organization", latency=0.4, count=1)

    started = time.monotonic()
    response = graph.get("/v1.0/organization")
    slow = time.monotonic() - started
    started = time.monotonic()
    graph.get("/v1.0/organization")
    fast = time.monotonic() - started

    assert response.status_code == 200
    assert slow >= 0.4 > fast


def test_a_reset_drops_the_connection_without_an_answer(
    sim: SimulatorProcess, control: SimulatorControl, graph: httpx.Client
) -> None:
    control.inject_fault("users/delta", reset=True, count=1)

    with pytest.raises(httpx.TransportError):
        graph.get(USERS)

    assert graph.get(USERS).status_code == 200
    assert control.faults()[0]["hits"] == 1


def test_a_fault_for_another_tenant_does_not_fire(
    graph: httpx.Client, control: SimulatorControl
) -> None:
    control.inject_fault("*", status=500, tenant_id="00000000-0000-4000-8000-000000000009")

    assert _statuses(graph, 3) == [200, 200, 200]


def test_identity_endpoints_fail_in_entras_dialect(
    sim: SimulatorProcess, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    control.inject_fault("token", status=503, count=1, retry_after=1, tenant_id=tenant["tenant_id"])
    form = {
        "grant_type": "client_credentials",
        "client_id": tenant["client_id"],
        "client_secret": tenant["client_secret"],
        "scope": f"{sim.graph_url}/.default",
    }
    url = f"{sim.authority_host}/{tenant['domain']}/oauth2/v2.0/token"

    with httpx.Client(verify=client_ssl_context(sim.ca_file), trust_env=False) as client:
        failed, worked = client.post(url, data=form), client.post(url, data=form)

    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "1"
    assert failed.json()["error"] == "temporarily_unavailable"
    assert failed.json()["error_description"].startswith("AADSTS90033:")
    assert worked.status_code == 200


def test_faults_are_listed_removed_and_cleared(control: SimulatorControl) -> None:
    first = control.inject_fault("users", status=500)
    control.inject_fault("groups", latency=0.1)

    control.remove_fault(first)
    remaining = control.faults()
    control.clear_faults()

    assert [rule["endpoint"] for rule in remaining] == ["groups"]
    assert control.faults() == []
    with pytest.raises(ControlError) as missing:
        control.remove_fault(first)
    assert missing.value.status == 404


@pytest.mark.parametrize(
    "spec",
    [{}, {"status": 200}, {"status": 503, "reset": True}, {"probability": 0, "status": 500}],
)
def test_nonsense_faults_are_refused(control: SimulatorControl, spec: dict[str, Any]) -> None:
    with pytest.raises(ControlError) as refused:
        control.inject_fault("users", **spec)

    assert refused.value.status == 400
    assert control.faults() == []


def test_successes_carry_their_resource_unit_cost(graph: httpx.Client) -> None:
    listed = graph.get("/v1.0/users")
    selected = graph.get("/v1.0/users", params={"$select": "id"})
    delta = graph.get(USERS)
    group_id = graph.get("/v1.0/groups", params={"$top": "1"}).json()["value"][0]["id"]
    members = graph.get(f"/v1.0/groups/{group_id}/members")
    member_ids = graph.get(f"/v1.0/groups/{group_id}/members", params={"$select": "id"})

    assert listed.headers["x-ms-resource-unit"] == "2"
    assert selected.headers["x-ms-resource-unit"] == "1"
    assert delta.headers["x-ms-resource-unit"] == "1"
    assert members.headers["x-ms-resource-unit"] == "3"
    assert member_ids.headers["x-ms-resource-unit"] == "2"
    assert "x-ms-throttle-limit-percentage" not in delta.headers


def test_the_budget_per_app_and_tenant_throttles_with_retry_after(
    graph: httpx.Client, control: SimulatorControl
) -> None:
    control.set_throttling(budget=10)

    answers = [graph.get(USERS) for _ in range(11)]
    throttled = answers[-1]
    control.advance_clock(10)
    recovered = graph.get(USERS)
    control.advance_clock(-10)

    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert "x-ms-throttle-limit-percentage" not in answers[6].headers
    assert float(answers[8].headers["x-ms-throttle-limit-percentage"]) == pytest.approx(
        0.9, abs=0.03
    )
    # A bucket refilled at a unit a second, one unit in debt: two seconds until a retry passes.
    assert float(throttled.headers["Retry-After"]) == pytest.approx(2, abs=0.1)
    assert throttled.json()["error"]["innerError"]["status"] == "429"
    assert throttled.headers["x-ms-throttle-scope"].startswith("Tenant_Application/ReadWrite/")
    assert throttled.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    assert recovered.status_code == 200


def test_the_default_budget_follows_graphs_numbers_and_can_be_switched_off(
    graph: httpx.Client, control: SimulatorControl
) -> None:
    defaults = control.set_throttling()
    off = control.set_throttling(enabled=False, budget=1)

    statuses = _statuses(graph, 3)

    assert (defaults["enabled"], defaults["budget"], defaults["window"]) == (True, None, 10.0)
    assert (defaults["app_budget"], defaults["app_window"]) == (150_000, 20.0)
    assert defaults["max_retry_after"] == 300.0
    assert off["enabled"] is False
    assert statuses == [200, 200, 200]


def test_retrying_before_retry_after_is_told_to_wait_longer_past_30_seconds(
    graph: httpx.Client, control: SimulatorControl
) -> None:
    # Graph "continues to log resource usage while a client is being throttled".
    control.set_throttling(budget=5, window=100, max_retry_after=120)  # 0.05 units a second
    for _ in range(5):
        assert graph.get(USERS).status_code == 200

    waits = [float(graph.get(USERS).headers["Retry-After"]) for _ in range(4)]
    control.advance_clock(waits[-1])
    after_waiting = graph.get(USERS)
    control.advance_clock(-waits[-1])

    assert waits == pytest.approx([40, 60, 80, 100], abs=0.5)
    assert after_waiting.status_code == 200
