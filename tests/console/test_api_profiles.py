"""`/api/v1/credential-profiles`: create, read, change and delete; the secret is write-only."""

from __future__ import annotations

from typing import Any

import httpx
from console_helpers import unique

CLIENT_ID = "11111111-2222-4333-8444-555555555555"


def new_profile(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"name": unique("profile"), "client_id": CLIENT_ID, "client_secret": "s3cret!", **fields}
    created = api.post("/api/v1/credential-profiles", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_a_profile_is_created_listed_and_read_without_its_secret(api: httpx.Client) -> None:
    created = api.post(
        "/api/v1/credential-profiles",
        json={
            "name": unique("Contoso app"),
            "client_id": CLIENT_ID.upper(),
            "client_secret": "super-secret-value",
            "secret_expires_at": "2099-01-31",
        },
    )
    assert created.status_code == 201
    profile = created.json()
    assert created.headers["location"] == f"/api/v1/credential-profiles/{profile['id']}"
    assert profile["client_id"] == CLIENT_ID and profile["kind"] == "secret"
    assert profile["secret_expires_at"] == "2099-01-31" and not profile["expires_soon"]
    listed = api.get("/api/v1/credential-profiles")
    assert profile["id"] in [p["id"] for p in listed.json()]
    fetched = api.get(f"/api/v1/credential-profiles/{profile['id']}")
    assert fetched.json() == profile
    for answer in (created, listed, fetched):
        assert "super-secret-value" not in answer.text
        assert "client_secret" not in answer.text


def test_a_secret_about_to_expire_is_flagged(api: httpx.Client) -> None:
    profile = new_profile(api, secret_expires_at="2000-01-01")
    assert profile["expired"] and profile["expires_soon"]


def test_invalid_input_is_a_422_naming_the_field(api: httpx.Client) -> None:
    cases = [
        ({"name": "x", "client_id": "not-a-guid", "client_secret": "s"}, "client_id"),
        ({"name": "  ", "client_id": CLIENT_ID, "client_secret": "s"}, "name"),
        ({"name": "x", "client_id": CLIENT_ID, "client_secret": "s", "colour": 1}, "colour"),
        ({"name": "x", "client_id": CLIENT_ID, "secret_expires_at": "soon"}, "secret_expires_at"),
        ({"name": 5, "client_id": CLIENT_ID, "client_secret": "s"}, "name"),
    ]
    for body, field in cases:
        refused = api.post("/api/v1/credential-profiles", json=body)
        assert refused.status_code == 422, body
        error = refused.json()
        assert error["code"] == "validation" and error["field"] == field, error
        assert error["message"]
    not_json = api.post(
        "/api/v1/credential-profiles",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert not_json.status_code == 422
    assert not_json.json() == {
        "code": "validation",
        "message": "the body is not valid JSON",
        "field": None,
    }


def test_a_profile_needs_a_secret_or_a_certificate(api: httpx.Client) -> None:
    refused = api.post(
        "/api/v1/credential-profiles", json={"name": unique("bare"), "client_id": CLIENT_ID}
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation"


def test_a_duplicate_name_is_a_conflict(api: httpx.Client) -> None:
    first = new_profile(api)
    again = api.post(
        "/api/v1/credential-profiles",
        json={"name": first["name"], "client_id": CLIENT_ID, "client_secret": "x"},
    )
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"


def test_a_profile_is_changed_with_its_version(api: httpx.Client) -> None:
    profile = new_profile(api)
    path = f"/api/v1/credential-profiles/{profile['id']}"
    renamed = api.patch(path, json={"version": profile["version"], "name": unique("renamed")})
    assert renamed.status_code == 200
    assert renamed.json()["version"] == profile["version"] + 1
    new_secret = api.patch(path, json={"version": renamed.json()["version"], "client_secret": "n"})
    assert new_secret.status_code == 200 and "client_secret" not in new_secret.text
    stale = api.patch(path, json={"version": profile["version"], "name": unique("late")})
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"
    no_version = api.patch(path, json={"name": "x"})
    assert no_version.status_code == 422 and no_version.json()["field"] == "version"
    id_in_body = api.patch(path, json={"version": 3, "profile_id": "other"})
    assert id_in_body.status_code == 422 and id_in_body.json()["field"] == "profile_id"
    null_name = api.patch(path, json={"version": 3, "name": None})
    assert null_name.status_code == 422 and null_name.json()["field"] == "name"


def test_a_profile_in_use_cannot_be_deleted(
    api: httpx.Client, sim_profile: dict[str, Any], synced_tenant: dict[str, Any]
) -> None:
    refused = api.delete(f"/api/v1/credential-profiles/{sim_profile['id']}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "in_use"


def test_a_profile_is_deleted(api: httpx.Client) -> None:
    profile = new_profile(api)
    path = f"/api/v1/credential-profiles/{profile['id']}"
    stale = api.delete(path, params={"version": profile["version"] + 5})
    assert stale.status_code == 409
    deleted = api.delete(path, params={"version": profile["version"]})
    assert deleted.status_code == 204 and deleted.content == b""
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404


def test_unknown_profiles_are_404_and_bad_ids_422(api: httpx.Client) -> None:
    missing = api.get("/api/v1/credential-profiles/0123456789abcdef")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    weird = api.get("/api/v1/credential-profiles/" + "x" * 65)
    assert weird.status_code == 422 and weird.json()["field"] == "profile_id"


def test_a_workload_identity_profile_is_created_without_any_secret(api: httpx.Client) -> None:
    token_file = "/var/run/secrets/azure/tokens/azure-identity-token"

    profile = new_profile(
        api, client_secret=None, kind="federated", federated_token_file=token_file
    )
    switched = api.patch(
        f"/api/v1/credential-profiles/{profile['id']}",
        json={"version": 1, "federated_token_file": None},
    )
    refused = api.post(
        "/api/v1/credential-profiles",
        json={
            "name": unique("wi"),
            "client_id": CLIENT_ID,
            "kind": "federated",
            "client_secret": "s",
        },
    )

    assert (profile["kind"], profile["federated_token_file"]) == ("federated", token_file)
    assert switched.status_code == 200, switched.text
    assert switched.json()["federated_token_file"] is None
    assert refused.status_code == 422 and "no secret" in refused.text
