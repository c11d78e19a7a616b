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
