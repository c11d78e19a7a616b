"""Full delta rounds, paging, `$select`, link handling and token errors (no mutations)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from sim_helpers import DEVICES, MEMBER_SLICE, PAGE_SIZE, USERS, run_round


def test_a_full_users_round_returns_every_user_once_over_several_pages(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    result = run_round(graph, "/v1.0/users/delta?$select=displayName,accountEnabled")

    ids = [entry["id"] for entry in result.entries]
    assert len(result.pages) >= USERS // PAGE_SIZE
    assert all(len(page["value"]) <= PAGE_SIZE for page in result.pages)
    assert len(ids) == len(set(ids)) == USERS
    assert set(ids) == {user["id"] for user in control.state(tenant["tenant_id"])["users"]}
    assert all(set(e) == {"id", "displayName", "accountEnabled"} for e in result.entries)
    assert "$deltatoken=" in result.delta_link
    assert all("$skiptoken=" in page["@odata.nextLink"] for page in result.pages[:-1])


def test_no_select_returns_every_property(graph: httpx.Client) -> None:
    entry = run_round(graph, "/v1.0/users/delta").entries[0]

    assert {"displayName", "userPrincipalName", "accountEnabled", "userType"} <= set(entry)


@pytest.mark.parametrize(
    "spelling", ["delta()", "microsoft.graph.delta", "microsoft.graph.delta()"]
)
def test_sdk_spellings_of_delta_work(graph: httpx.Client, spelling: str) -> None:
    result = run_round(graph, f"/v1.0/devices/{spelling}?$select=displayName")

    assert len(result.entries) == DEVICES
    assert "/v1.0/devices/delta?$deltatoken=" in result.delta_link


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_only_get_reads_a_delta_path(graph: httpx.Client, method: str) -> None:
    # GETs of delta paths skip the router (the app's fast path); other methods still meet it.
    response = graph.request(method, "/v1.0/users/delta")

    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


def test_prefer_maxpagesize_lowers_the_page_size(graph: httpx.Client) -> None:
    response = graph.get(
        "/v1.0/users/delta", params={"$select": "id"}, headers={"Prefer": "odata.maxpagesize=3"}
    )

    assert len(response.json()["value"]) == 3
    assert response.headers["Preference-Applied"] == "odata.track-changes, odata.maxpagesize=3"


def test_a_full_groups_round_carries_whole_memberships_in_slices(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    result = run_round(graph, "/v1.0/groups/delta?$select=displayName,members")

    merged = result.by_id()
    truth = {g["id"]: g["members"] for g in control.state(tenant["tenant_id"])["groups"]}
    assert {
        gid: sorted(m["id"] for m in g.get("members@delta", [])) for gid, g in merged.items()
    } == truth
    assert any(len(m) > MEMBER_SLICE for m in truth.values()), "seed has no group to slice"
    assert len(result.entries) > len(merged)
    assert all(len(e.get("members@delta", [])) <= MEMBER_SLICE for e in result.entries)
    assert all(
        "@removed" not in m and m["@odata.type"].startswith("#microsoft.graph.")
        for e in result.entries
        for m in e.get("members@delta", [])
    )
    assert all(truth[gid] or "members@delta" not in g for gid, g in merged.items())


def test_groups_without_members_in_select_carry_no_members(graph: httpx.Client) -> None:
    result = run_round(graph, "/v1.0/groups/delta?$select=displayName")

    assert all(set(entry) == {"id", "displayName"} for entry in result.entries)


@pytest.mark.parametrize("name", ["$deltatoken", "$deltaToken"])
def test_latest_returns_only_a_delta_link(graph: httpx.Client, name: str) -> None:
    # delta-query-overview.md spells it `$deltaToken=latest`; its links say `$deltatoken`.
    page = graph.get("/v1.0/users/delta", params={name: "latest"}).json()

    assert page["value"] == []
    assert "@odata.nextLink" not in page
    assert run_round(graph, page["@odata.deltaLink"]).entries == []


def test_a_garbled_token_is_a_badly_formed_token(graph: httpx.Client) -> None:
    for name in ("$deltatoken", "$skiptoken"):
        response = graph.get("/v1.0/users/delta", params={name: "not-a-token!"})

        assert response.status_code == 400
        assert response.json()["error"]["code"] == "badRequest"
        assert response.json()["error"]["message"] == "Badly formed token."
        inner = response.json()["error"]["innerError"]
        assert inner["request-id"] == response.headers["request-id"]
        assert inner["client-request-id"] == response.headers["client-request-id"]


def test_a_link_of_another_resource_is_accepted_with_an_empty_result(
    graph: httpx.Client,
) -> None:
    users_link = run_round(graph, "/v1.0/users/delta?$select=id").delta_link
    token = httpx.URL(users_link).params["$deltatoken"]

    response = graph.get("/v1.0/groups/delta", params={"$deltatoken": token})

    assert response.status_code == 200
    assert response.json()["value"] == []
    assert "/v1.0/groups/delta?$deltatoken=" in response.json()["@odata.deltaLink"]


def test_a_well_formed_token_with_bad_fields_is_refused(graph: httpx.Client) -> None:
    raw = json.dumps({"v": 1, "kind": "users", "since": "x"}).encode()
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")

    response = graph.get("/v1.0/users/delta", params={"$deltatoken": token})

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Badly formed token."


def test_an_unknown_select_property_is_a_bad_request(graph: httpx.Client) -> None:
    response = graph.get("/v1.0/users/delta", params={"$select": "displayName,shoeSize"})

    assert response.status_code == 400
    assert "shoeSize" in response.json()["error"]["message"]


def test_an_unknown_resource_is_a_graph_error(graph: httpx.Client) -> None:
    response = graph.get("/v1.0/printers/delta")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_the_same_seed_gives_the_same_directory(sim: SimulatorProcess) -> None:
    states = []
    for _ in range(2):
        with SimulatorProcess(users=4, groups=2, devices=2, seed=7) as other:
            with SimulatorControl(other.control_url, other.ca_file) as client:
                states.append((other.tenants, client.state(other.tenants[0]["tenant_id"])))

    assert states[0] == states[1]
    assert states[0][0] != sim.tenants


def test_sigterm_stops_the_process_cleanly() -> None:
    process = SimulatorProcess(users=1, groups=0, devices=0).start()
    process.stop()

    assert process.returncode == 0


def test_a_simulator_that_cannot_start_raises_with_its_stderr() -> None:
    with pytest.raises(RuntimeError, match="(?s)exited with 2.*--users"):
        SimulatorProcess(users=-1).start()


def test_the_select_list_is_in_the_context_of_a_rounds_first_page_only(
    graph: httpx.Client,
) -> None:
    result = run_round(graph, "/v1.0/users/delta?$select=displayName,accountEnabled")
    groups = run_round(graph, "/v1.0/groups/delta?$select=displayName,members")
    again = run_round(graph, result.delta_link)

    base = str(graph.base_url).rstrip("/")
    contexts = [page["@odata.context"] for page in result.pages]
    assert contexts[0] == f"{base}/v1.0/$metadata#users(accountEnabled,displayName)"
    assert set(contexts[1:]) == {f"{base}/v1.0/$metadata#users"}
    # delta-query-groups.md: `$select=displayName,description,members` gives
    # `#groups(displayName,description)`: the relationship is not listed.
    assert groups.pages[0]["@odata.context"] == f"{base}/v1.0/$metadata#groups(displayName)"
    assert again.pages[0]["@odata.context"] == f"{base}/v1.0/$metadata#users"


def test_every_delta_page_applies_track_changes(graph: httpx.Client) -> None:
    first = graph.get("/v1.0/users/delta", params={"$select": "id"})
    link = first.json()["@odata.nextLink"]
    following = graph.get(link, headers={"Prefer": "return=minimal"})

    assert first.headers["Preference-Applied"] == "odata.track-changes"
    assert following.headers["Preference-Applied"] == "odata.track-changes, return=minimal"
