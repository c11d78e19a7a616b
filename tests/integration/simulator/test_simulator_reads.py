"""Cheap reads a connection test makes: organization, domains, lists and single objects."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from entrasync_sim.control_client import SimulatorControl


def test_domains_lists_every_verified_domain(graph: httpx.Client, tenant: dict[str, Any]) -> None:
    domains = graph.get("/v1.0/domains").json()["value"]

    assert [d["id"] for d in domains] == tenant["domains"]
    assert domains[0]["isInitial"] is True and domains[0]["isVerified"] is True


def test_organization_names_the_tenant_and_its_domains(
    graph: httpx.Client, tenant: dict[str, Any]
) -> None:
    response = graph.get("/v1.0/organization")

    [organization] = response.json()["value"]
    assert (organization["id"], organization["displayName"]) == (
        tenant["tenant_id"],
        tenant["display_name"],
    )
    assert [d["name"] for d in organization["verifiedDomains"]] == tenant["domains"]
    assert response.headers["content-type"].startswith("application/json;odata.metadata=minimal")


@pytest.mark.parametrize("kind", ["users", "groups", "devices"])
def test_a_one_object_read_proves_a_permission(graph: httpx.Client, kind: str) -> None:
    response = graph.get(f"/v1.0/{kind}", params={"$top": "1", "$select": "id"})

    body = response.json()
    assert response.status_code == 200
    assert [set(o) for o in body["value"]] == [{"id"}]
    assert "$skiptoken=" in body["@odata.nextLink"]


def test_lists_page_past_any_fixed_cap(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    url: str | None = "/v1.0/users?$top=7&$select=displayName"
    seen: list[str] = []
    while url:
        page = graph.get(url).json()
        assert len(page["value"]) <= 7
        seen += [u["id"] for u in page["value"]]
        url = page.get("@odata.nextLink")

    assert seen == [u["id"] for u in control.truth(tenant["tenant_id"], "user")]


@pytest.mark.parametrize(
    "params",
    [{"$top": "1000"}, {"$top": "0"}, {"$filter": "userType eq 'Guest'"}, {"$skiptoken": "@@"}],
)
def test_unsupported_list_queries_are_bad_requests(
    graph: httpx.Client, params: dict[str, str]
) -> None:
    response = graph.get("/v1.0/users", params=params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Request_BadRequest"


def test_a_single_object_by_id_and_a_missing_one(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    tid = tenant["tenant_id"]
    user = control.create(tid, "users", {"displayName": "Single", "jobTitle": "One"})
    found = graph.get(f"/v1.0/users/{user['id']}", params={"$select": "displayName"})
    control.delete(tid, "users", user["id"])
    gone = graph.get(f"/v1.0/users/{user['id']}")

    assert found.status_code == 200
    assert {k: v for k, v in found.json().items() if not k.startswith("@")} == {
        "id": user["id"],
        "displayName": "Single",
    }
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "Request_ResourceNotFound"


def test_group_members_page_through_the_live_direct_members(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    tid = tenant["tenant_id"]
    group = max(control.truth(tid, "group"), key=lambda g: len(g["members"]))
    url: str | None = f"/v1.0/groups/{group['id']}/members?$top=3&$select=id"
    seen: list[str] = []
    while url:
        response = graph.get(url)
        assert response.status_code == 200
        page = response.json()
        assert len(page["value"]) <= 3
        assert all(set(m) == {"@odata.type", "id"} for m in page["value"])
        seen += [m["id"] for m in page["value"]]
        url = page.get("@odata.nextLink")

    assert len(group["members"]) > 3
    assert seen == group["members"]


def test_group_members_hide_soft_deleted_members_and_type_each_entry(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    tid = tenant["tenant_id"]
    group = control.create(tid, "groups", {"displayName": "Scope"})
    kept = control.create(tid, "users", {"displayName": "Kept", "userType": "Member"})
    gone = control.create(tid, "users", {"displayName": "Gone"})
    device = control.create(tid, "devices", {"displayName": "Laptop"})
    control.change_members(tid, group["id"], add=[kept["id"], gone["id"], device["id"]])
    control.delete(tid, "users", gone["id"])

    body = graph.get(
        f"/v1.0/groups/{group['id']}/members", params={"$select": "displayName,userType"}
    ).json()

    by_id = {m["id"]: m for m in body["value"]}
    assert set(by_id) == {kept["id"], device["id"]}
    assert by_id[kept["id"]] == {
        "@odata.type": "#microsoft.graph.user",
        "id": kept["id"],
        "displayName": "Kept",
        "userType": "Member",
    }
    assert by_id[device["id"]] == {
        "@odata.type": "#microsoft.graph.device",
        "id": device["id"],
        "displayName": "Laptop",
    }
    assert "@odata.nextLink" not in body


_NOT_FOUND = "Request_ResourceNotFound"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1.0/groups/00000000-0000-0000-0000-000000000001/members", 404, _NOT_FOUND),
        ("/v1.0/groups/{group}/members?$select=nope", 400, "Request_BadRequest"),
        ("/v1.0/groups/{group}/members?$top=1000", 400, "Request_BadRequest"),
        ("/v1.0/groups/{group}/members?$skiptoken=@@", 400, "Request_BadRequest"),
    ],
)
def test_group_members_refuse_what_graph_refuses(
    graph: httpx.Client,
    control: SimulatorControl,
    tenant: dict[str, Any],
    path: str,
    status: int,
    code: str,
) -> None:
    group = control.truth(tenant["tenant_id"], "group")[0]

    response = graph.get(path.replace("{group}", group["id"]))

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
