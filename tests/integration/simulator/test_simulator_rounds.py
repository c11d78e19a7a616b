"""Delta rounds over time: sparse updates, link expiry, tenant resets and Graph's quirks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from sim_helpers import (
    PAGE_SIZE,
    USERS,
    acquire_graph_token,
    graph_client,
    latest_link,
    run_round,
)

SEVEN_DAYS = 7 * 24 * 3600


@pytest.fixture
def tid(tenant: dict[str, Any]) -> str:
    return str(tenant["tenant_id"])


@pytest.fixture
def clean_quirks(control: SimulatorControl, tid: str) -> Iterator[None]:
    yield
    control.set_delta_quirks(tid)
    control.configure(page_size=PAGE_SIZE, delta_link_lifetime=SEVEN_DAYS)


def _a_user(control: SimulatorControl, tid: str, **attrs: Any) -> str:
    return str(control.create(tid, "users", {"displayName": "Someone", **attrs})["id"])


def test_prefer_return_minimal_sends_only_changed_properties(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    user = _a_user(control, tid, jobTitle="Clerk", department="Sales")
    link = latest_link(graph, "users", "displayName,jobTitle,department")
    control.update(tid, "users", user, {"jobTitle": None})
    created = _a_user(control, tid, jobTitle="New")

    minimal = graph.get(link, headers={"Prefer": "return=minimal"})
    full = run_round(graph, link).by_id()

    assert minimal.headers["Preference-Applied"] == "odata.track-changes, return=minimal"
    entries = {e["id"]: e for e in minimal.json()["value"]}
    assert entries[user] == {"id": user, "jobTitle": None}
    # A never-set property is left out (user-delta.md), even of a new object.
    assert entries[created] == {"id": created, "displayName": "Someone", "jobTitle": "New"}
    assert full[user] == {
        "id": user,
        "displayName": "Someone",
        "jobTitle": None,
        "department": "Sales",
    }


def test_a_membership_only_change_is_sparse_under_return_minimal(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    group = control.create(tid, "groups", {"displayName": "Sparse"})["id"]
    link = latest_link(graph, "groups", "displayName,members")
    member = _a_user(control, tid)
    control.change_members(tid, group, add=[member])

    page = graph.get(link, headers={"Prefer": "return=minimal"}).json()

    [entry] = [e for e in page["value"] if e["id"] == group]
    assert entry == {
        "id": group,
        "members@delta": [{"@odata.type": "#microsoft.graph.user", "id": member}],
    }


def _later(sim: SimulatorProcess, tenant: dict[str, Any], link: str) -> httpx.Response:
    """Follow `link` with a token issued at the (moved) simulated time."""
    with graph_client(sim, acquire_graph_token(sim, tenant, tenant["tenant_id"])) as graph:
        return graph.get(link)


def test_a_delta_link_older_than_seven_days_is_sync_state_not_found(
    sim: SimulatorProcess, graph: httpx.Client, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    young = latest_link(graph, "users", "displayName")
    old = latest_link(graph, "devices", "displayName")

    control.advance_clock(6 * 24 * 3600)
    still_fine = _later(sim, tenant, young)
    control.advance_clock(SEVEN_DAYS - 6 * 24 * 3600 + 1)
    expired = _later(sim, tenant, old)
    control.advance_clock(-(SEVEN_DAYS + 1))

    assert still_fine.status_code == 200, still_fine.text
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "syncStateNotFound"


def test_the_delta_link_lifetime_is_configurable(
    graph: httpx.Client, control: SimulatorControl, clean_quirks: None
) -> None:
    control.configure(delta_link_lifetime=60)
    link = latest_link(graph, "groups", "displayName")

    control.advance_clock(61)
    response = graph.get(link)
    control.advance_clock(-61)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "syncStateNotFound"


def test_a_tenant_reset_answers_410_with_a_location_to_start_again(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    users_link = latest_link(graph, "users", "displayName,accountEnabled")
    half_round = graph.get("/v1.0/users/delta?$select=id").json()["@odata.nextLink"]
    devices_link = latest_link(graph, "devices", "displayName")
    groups_link = latest_link(graph, "groups", "displayName")

    control.reset_tenant(tid, types=["user", "device"])
    gone = graph.get(users_link)
    gone_mid_round = graph.get(half_round)
    devices_gone = graph.get(devices_link)
    unaffected = graph.get(groups_link)
    fresh = run_round(graph, gone.headers["Location"])

    assert gone.status_code == gone_mid_round.status_code == devices_gone.status_code == 410
    assert gone.json()["error"]["code"] == "resyncRequired"
    location = httpx.URL(gone.headers["Location"])
    assert location.path == "/v1.0/users/delta"
    assert location.params["$select"] == "accountEnabled,displayName"
    assert unaffected.status_code == 200
    assert len(fresh.by_id()) == len(control.truth(tid, "user"))
    assert graph.get(fresh.delta_link).status_code == 200


def test_duplicates_repeat_objects_within_a_round(
    graph: httpx.Client, control: SimulatorControl, tid: str, clean_quirks: None
) -> None:
    control.set_delta_quirks(tid, duplicates=0.3, seed=3)

    result = run_round(graph, "/v1.0/users/delta?$select=displayName")

    counts = Counter(entry["id"] for entry in result.entries)
    assert set(counts) == {u["id"] for u in control.truth(tid, "user")}
    assert set(counts.values()) == {1, 2}


def test_replays_send_changes_of_the_previous_round_again(
    graph: httpx.Client, control: SimulatorControl, tid: str, clean_quirks: None
) -> None:
    control.set_delta_quirks(tid, replays=1.0)
    link = latest_link(graph, "users", "displayName")
    first = _a_user(control, tid, displayName="First")
    round_one = run_round(graph, link)
    second = _a_user(control, tid, displayName="Second")

    round_two = run_round(graph, round_one.delta_link)
    round_three = run_round(graph, round_two.delta_link)
    round_four = run_round(graph, round_three.delta_link)

    assert set(round_one.by_id()) == {first}
    assert set(round_two.by_id()) == {first, second}
    assert round_two.by_id()[first]["displayName"] == "First"
    assert set(round_three.by_id()) == {second}
    assert round_four.entries == []


def test_empty_pages_still_carry_a_next_link(
    graph: httpx.Client, control: SimulatorControl, tid: str, clean_quirks: None
) -> None:
    control.set_delta_quirks(tid, empty_pages=1.0)

    result = run_round(graph, "/v1.0/users/delta?$select=id")

    empty = [p for p in result.pages if not p["value"]]
    assert len(empty) == len(result.pages) // 2
    assert all("@odata.nextLink" in page for page in empty)
    assert len(result.by_id()) == len(result.entries) == len(control.truth(tid, "user"))


def test_the_page_size_is_a_setting(
    graph: httpx.Client, control: SimulatorControl, clean_quirks: None
) -> None:
    control.configure(page_size=20)

    result = run_round(graph, "/v1.0/users/delta?$select=id")

    assert [len(p["value"]) for p in result.pages[:2]] == [20, 20]
    assert len(result.entries) >= USERS
