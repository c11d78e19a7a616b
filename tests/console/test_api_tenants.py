"""`/api/v1/tenants`: the Entra ID Sync policies, Test Connection, Sync now and the status."""

from __future__ import annotations

from typing import Any

import httpx
from console_helpers import CLOUD, eventually, unique
from entrasync_sim.launcher import SimulatorProcess


def new_tenant(api: httpx.Client, profile_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "tenant": f"t{unique('x')[-8:]}.example.com",
        "cloud": CLOUD,
        "profile_id": profile_id,
        "enabled": False,
        **fields,
    }
    created = api.post("/api/v1/tenants", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_a_tenant_is_added_with_a_full_scan_pending(
    api: httpx.Client, sim_profile: dict[str, Any]
) -> None:
    created = api.post(
        "/api/v1/tenants",
        json={
            "tenant": "Fabrikam.OnMicrosoft.com",
            "cloud": CLOUD,
            "profile_id": sim_profile["id"],
            "enabled": False,
        },
    )
    assert created.status_code == 201
    tenant = created.json()
    assert created.headers["location"] == f"/api/v1/tenants/{tenant['id']}"
    assert tenant["tenant"] == "fabrikam.onmicrosoft.com" and tenant["name"] == tenant["tenant"]
    assert tenant["full_scan_next"] and not tenant["enabled"]
    assert tenant["object_types"] == ["user", "group", "device"]
    fetched = api.get(f"/api/v1/tenants/{tenant['id']}").json()
    assert fetched["profile_name"] == sim_profile["name"]
    assert fetched["last_sync"] is None and fetched["last_sync_error"] is None


def test_the_tenant_list_has_the_seed_pages_columns(
    api: httpx.Client, synced_tenant: dict[str, Any], sim_profile: dict[str, Any]
) -> None:
    rows = {t["id"]: t for t in api.get("/api/v1/tenants").json()}
    row = rows[synced_tenant["id"]]
    assert row["name"] == synced_tenant["name"] and row["enabled"] is True
    assert row["profile_name"] == sim_profile["name"]
    assert row["last_sync"]["last_sync_status"] == "Succeeded"
    assert row["last_sync"]["last_sync_started_at"]
    assert row["full_scan_next"] is False  # cleared by the successful first full run


def test_invalid_tenants_are_refused_naming_the_field(
    api: httpx.Client, sim_profile: dict[str, Any]
) -> None:
    good = {"tenant": "ok.example.com", "cloud": CLOUD, "profile_id": sim_profile["id"]}
    cases = [
        ({**good, "tenant": "not a domain"}, "tenant"),
        ({**good, "cloud": "mars"}, "cloud"),
        ({**good, "profile_id": "0" * 32}, "profile_id"),
        ({**good, "enabled": "yes"}, "enabled"),
        ({**good, "interval_seconds": 1}, "interval_seconds"),
        ({**good, "object_types": []}, "object_types"),
        ({**good, "filters": {"colour": True}}, "filters"),
    ]
    for body, field in cases:
        refused = api.post("/api/v1/tenants", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["field"] == field, refused.json()


def test_a_policy_is_changed_but_tenant_and_cloud_are_immutable(
    api: httpx.Client, sim_profile: dict[str, Any]
) -> None:
    tenant = new_tenant(api, sim_profile["id"])
    path = f"/api/v1/tenants/{tenant['id']}"
    changed = api.patch(
        path, json={"version": tenant["version"], "full_scan_next": False, "name": unique("N")}
    )
    assert changed.status_code == 200
    assert changed.json()["full_scan_next"] is False
    assert changed.json()["version"] == tenant["version"] + 1
    again = api.patch(path, json={"version": changed.json()["version"], "full_scan_next": True})
    assert again.json()["full_scan_next"] is True
    moved = api.patch(
        path, json={"version": again.json()["version"], "tenant": "other.example.com"}
    )
    assert moved.status_code == 422 and moved.json()["field"] == "tenant"
    recloud = api.patch(path, json={"version": again.json()["version"], "cloud": "global"})
    assert recloud.status_code == 422 and recloud.json()["field"] == "cloud"
    stale = api.patch(path, json={"version": 1, "enabled": True})
    assert stale.status_code == 409 and stale.json()["field"] == "version"


def test_a_tenant_is_deleted(api: httpx.Client, sim_profile: dict[str, Any]) -> None:
    tenant = new_tenant(api, sim_profile["id"])
    path = f"/api/v1/tenants/{tenant['id']}"
    assert api.delete(path, params={"version": 99}).status_code == 409
    assert api.delete(path, params={"purge_history": "true"}).status_code == 204
    assert api.get(path).status_code == 404
    assert tenant["id"] not in [t["id"] for t in api.get("/api/v1/tenants").json()]


def test_test_connection_of_unsaved_input_reports_success_and_failure(
    api: httpx.Client, console_sim: SimulatorProcess, sim_profile: dict[str, Any]
) -> None:
    domain = console_sim.tenants[0]["domain"]
    body = {"tenant": domain, "cloud": CLOUD, "profile_id": sim_profile["id"]}
    good = api.post("/api/v1/tenants/test-connection", json=body)
    assert good.status_code == 200 and good.json()["ok"] is True
    assert {s["name"] for s in good.json()["steps"]} >= {"token", "read"}
    wrong_app = api.post(
        "/api/v1/credential-profiles",
        json={
            "name": unique("wrong secret"),
            "client_id": console_sim.tenants[0]["client_id"],
            "client_secret": "not-the-secret",
        },
    ).json()
    bad = api.post("/api/v1/tenants/test-connection", json={**body, "profile_id": wrong_app["id"]})
    assert bad.status_code == 200 and bad.json()["ok"] is False
    assert bad.json()["message"]
    invalid = api.post("/api/v1/tenants/test-connection", json={**body, "tenant": "no way"})
    assert invalid.status_code == 422 and invalid.json()["field"] == "tenant"


def test_test_connection_of_a_saved_tenant(
    api: httpx.Client, synced_tenant: dict[str, Any]
) -> None:
    path = f"/api/v1/tenants/{synced_tenant['id']}/test-connection"
    tested = api.post(path)
    assert tested.status_code == 200 and tested.json()["ok"] is True
    with_options = api.post(path, json={"timeout_seconds": 20})
    assert with_options.json()["ok"] is True
    assert api.post(path, json={"timeout_seconds": 0}).status_code == 422
    assert api.post("/api/v1/tenants/0123456789abcdef/test-connection").status_code == 404


def test_sync_now_runs_the_tenant_and_the_status_follows_it(
    api: httpx.Client, synced_tenant: dict[str, Any]
) -> None:
    accepted = api.post(f"/api/v1/tenants/{synced_tenant['id']}/sync")
    assert accepted.status_code == 202
    answer = accepted.json()
    assert answer["tenant_id"] == synced_tenant["id"]
    assert answer["status"] in ("queued", "deferred")
    run_id = answer["run_id"]

    def recorded() -> dict[str, Any] | None:
        status = api.get(f"/api/v1/tenants/{synced_tenant['id']}/status").json()
        last = status["last_sync"]
        done = last and (run_id is None or last["last_run_id"] == run_id) and not status["running"]
        return status if done else None

    status = eventually(recorded, "the manual run to be recorded")
    assert status["last_sync"]["last_sync_status"] == "Succeeded"
    assert {row["object_type"] for row in status["run_rows"]} == {"user", "group", "device"}
    assert {row["reason"] for row in status["run_rows"]} == {"manual"}
    assert api.post("/api/v1/tenants/0123456789abcdef/sync").status_code == 404


def test_objects_lists_the_synced_copy(
    api: httpx.Client, synced_tenant: dict[str, Any], console_sim: SimulatorProcess
) -> None:
    path = f"/api/v1/tenants/{synced_tenant['id']}/objects"
    users = api.get(path, params={"type": "user", "page_size": 10})
    assert users.status_code == 200
    page = users.json()
    assert page["total"] >= 30 and len(page["items"]) == 10
    first = page["items"][0]
    assert first["object_type"] == "user" and first["tenant_id"] == synced_tenant["id"]
    name = first["attributes"].get("displayName")
    if name:
        found = api.get(path, params={"type": "user", "search": name}).json()
        assert first["object_id"] in [i["object_id"] for i in found["items"]]
    groups = api.get(path, params={"type": "group"}).json()
    assert groups["total"] >= 4
    assert api.get(path, params={"type": "printer"}).json()["field"] == "type"
    assert api.get(path).status_code == 422
    assert api.get(path, params={"type": "user", "page_size": 5000}).status_code == 422


def test_the_openapi_document_describes_every_resource(api: httpx.Client) -> None:
    document = api.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path, methods in {
        "/api/v1/credential-profiles": {"get", "post"},
        "/api/v1/credential-profiles/{profile_id}": {"get", "patch", "delete"},
        "/api/v1/tenants": {"get", "post"},
        "/api/v1/tenants/{tenant_id}": {"get", "patch", "delete"},
        "/api/v1/tenants/test-connection": {"post"},
        "/api/v1/tenants/{tenant_id}/test-connection": {"post"},
        "/api/v1/tenants/{tenant_id}/sync": {"post"},
        "/api/v1/tenants/{tenant_id}/history": {"get"},
        "/api/v1/tenants/{tenant_id}/history.csv": {"get"},
        "/api/v1/tenants/{tenant_id}/objects": {"get"},
        "/api/v1/deleted-tenants": {"get"},
        "/api/v1/deleted-tenants/{tenant_id}/history": {"get"},
        "/api/v1/deleted-tenants/{tenant_id}/history.csv": {"get"},
    }.items():
        assert methods <= set(paths[path]), path
    schemas = document["components"]["schemas"]
    assert "tenant_id" not in schemas["TenantPatch"]["properties"]
    assert schemas["CredentialProfileCreate"]["properties"]["client_secret"]
    assert {"HTTPBearer", "APIKeyCookie"} <= set(document["components"]["securitySchemes"])


def test_the_clouds_are_the_national_ones_and_the_configured_ones(api: httpx.Client) -> None:
    assert api.get("/api/v1/clouds").json() == ["global", "usgov", "usgov-dod", "china", CLOUD]
