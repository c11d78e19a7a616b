"""Certificates, secret expiry, token lifetime and per-app Graph permissions."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from entrasync_sim.tls import client_ssl_context
from sim_helpers import graph_client, msal_app, msal_session

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _token(sim: SimulatorProcess, app: dict[str, Any], key: str, credential: Any) -> dict[str, Any]:
    with msal_session(sim.ca_file) as session:
        client = msal_app(sim, app["client_id"], credential, key, session)
        result: dict[str, Any] = client.acquire_token_for_client([f"{sim.graph_url}/.default"])
    return result


def _by_thumbprint(app: dict[str, Any]) -> dict[str, str]:
    return {"private_key": app["private_key_pem"], "thumbprint": app["thumbprint"]}


def _assertion(sim: SimulatorProcess, app: dict[str, Any], tenant_id: str, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "aud": f"{sim.authority_host}/{tenant_id}/oauth2/v2.0/token",
        "iss": app["client_id"],
        "sub": app["client_id"],
        "jti": str(uuid.uuid4()),
        "nbf": now,
        "exp": now + 600,
        **claims,
    }
    key = load_pem_private_key(app["private_key_pem"].encode(), None)
    thumbprint = bytes.fromhex(app["thumbprint"])
    x5t = base64.urlsafe_b64encode(thumbprint).decode().rstrip("=")
    return jwt.encode(body, key, algorithm="RS256", headers={"x5t": x5t})  # type: ignore[arg-type]


def _post_assertion(
    sim: SimulatorProcess, tenant_id: str, client_id: str, assertion: str
) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "scope": f"{sim.graph_url}/.default",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    with httpx.Client(verify=client_ssl_context(sim.ca_file), trust_env=False) as client:
        return client.post(f"{sim.authority_host}/{tenant_id}/oauth2/v2.0/token", data=form)


@pytest.fixture
def restore_settings(control: SimulatorControl) -> Iterator[None]:
    before = control.configure()
    yield
    control.configure(**before)


def test_msal_gets_a_token_with_the_certificate_and_its_sha1_thumbprint(
    sim: SimulatorProcess, tenant: dict[str, Any]
) -> None:
    result = _token(sim, tenant, tenant["tenant_id"], _by_thumbprint(tenant))

    assert "access_token" in result, result
    assert jwt.get_unverified_header(result["access_token"])["alg"] == "HS256"


def test_msal_gets_a_token_with_the_public_certificate_ps256(
    sim: SimulatorProcess, tenant: dict[str, Any]
) -> None:
    credential = {
        "private_key": tenant["private_key_pem"],
        "public_certificate": tenant["certificate_pem"],
    }

    result = _token(sim, tenant, tenant["domain"], credential)

    assert "access_token" in result, result


def test_a_certificate_of_another_app_is_refused_700027(
    sim: SimulatorProcess, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    other = control.add_app(tenant["tenant_id"], secret=False)

    result = _token(sim, tenant, tenant["tenant_id"], _by_thumbprint(other))

    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]


def test_a_tampered_assertion_fails_signature_validation(
    sim: SimulatorProcess, tenant: dict[str, Any]
) -> None:
    assertion = _assertion(sim, tenant, tenant["tenant_id"])
    header, payload, signature = assertion.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"

    response = _post_assertion(sim, tenant["tenant_id"], tenant["client_id"], tampered)

    assert response.status_code == 401
    assert response.json()["error_codes"] == [700027]


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": int(time.time()) - 60}, 700024),
        ({"aud": "https://login.microsoftonline.com/x/oauth2/v2.0/token"}, 700212),
        ({"iss": "someone-else"}, 700021),
    ],
)
def test_a_bad_client_assertion_is_refused(
    sim: SimulatorProcess, tenant: dict[str, Any], claims: dict[str, Any], code: int
) -> None:
    assertion = _assertion(sim, tenant, tenant["tenant_id"], **claims)

    response = _post_assertion(sim, tenant["tenant_id"], tenant["client_id"], assertion)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_codes"] == [code]


def test_an_assertion_addressed_to_a_domain_token_endpoint_is_accepted(
    sim: SimulatorProcess, tenant: dict[str, Any]
) -> None:
    aud = f"{sim.authority_host}/{tenant['domains'][1]}/oauth2/v2.0/token"
    assertion = _assertion(sim, tenant, tenant["tenant_id"], aud=aud)

    response = _post_assertion(sim, tenant["domains"][1], tenant["client_id"], assertion)

    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_an_expired_secret_is_invalid_client_7000222(
    sim: SimulatorProcess, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    app = control.add_app(tenant["tenant_id"])
    assert "access_token" in _token(sim, app, tenant["tenant_id"], app["client_secret"])

    expired = control.expire_secret(tenant["tenant_id"], app["client_id"])
    result = _token(sim, app, tenant["tenant_id"], app["client_secret"])

    assert expired["secret_expires_at"] is not None
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000222]
    assert "access_token" in _token(sim, app, tenant["tenant_id"], _by_thumbprint(app))
    control.set_secret_expiry(tenant["tenant_id"], app["client_id"], None)
    assert "access_token" in _token(sim, app, tenant["tenant_id"], app["client_secret"])


def test_a_certificate_only_app_refuses_any_secret(
    sim: SimulatorProcess, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    app = control.add_app(tenant["tenant_id"], secret=False)

    result = _token(sim, app, tenant["tenant_id"], "anything")

    assert app["client_secret"] is None
    assert result["error_codes"] == [7000215]


def test_tokens_carry_the_apps_permissions_as_roles(
    sim: SimulatorProcess, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    app = control.add_app(tenant["tenant_id"], permissions=["User.Read.All", "Device.Read.All"])

    token = _token(sim, app, tenant["tenant_id"], app["client_secret"])["access_token"]

    claims = jwt.decode(token, options={"verify_signature": False})
    assert sorted(claims["roles"]) == ["Device.Read.All", "User.Read.All"]
    assert claims["tid"] == tenant["tenant_id"] and claims["appid"] == app["client_id"]


_MEMBERS = "/v1.0/groups/{id}/members"


@pytest.mark.parametrize(
    ("permissions", "allowed"),
    [
        (["User.Read.All"], {"/v1.0/users/delta"}),
        (["GroupMember.Read.All"], {"/v1.0/groups/delta", _MEMBERS}),
        (["Group.Read.All"], {"/v1.0/groups/delta", _MEMBERS}),
        (["Device.Read.All"], {"/v1.0/devices/delta"}),
        (["Organization.Read.All"], {"/v1.0/organization"}),
        (["Domain.Read.All"], {"/v1.0/domains"}),
        (
            ["Directory.Read.All"],
            {"/v1.0/users/delta", "/v1.0/groups/delta", "/v1.0/devices/delta"}
            | {"/v1.0/organization", "/v1.0/domains", _MEMBERS},
        ),
        ([], set()),
    ],
)
def test_a_missing_permission_is_403_authorization_request_denied(
    sim: SimulatorProcess,
    control: SimulatorControl,
    tenant: dict[str, Any],
    permissions: list[str],
    allowed: set[str],
) -> None:
    app = control.add_app(tenant["tenant_id"], permissions=permissions, certificate=False)
    token = _token(sim, app, tenant["tenant_id"], app["client_secret"])["access_token"]
    paths = ["/v1.0/users/delta", "/v1.0/groups/delta", "/v1.0/devices/delta"]
    paths += ["/v1.0/organization", "/v1.0/domains", _MEMBERS]
    group_id = control.truth(tenant["tenant_id"], "group")[0]["id"]

    with graph_client(sim, token) as graph:
        statuses = {
            path: graph.get(path.replace("{id}", group_id), params={"$select": "id"})
            for path in paths
        }

    for path, response in statuses.items():
        if path in allowed:
            assert response.status_code == 200, (path, response.text)
        else:
            assert response.status_code == 403, (path, response.text)
            assert response.json()["error"]["code"] == "Authorization_RequestDenied"


def test_changed_permissions_apply_to_tokens_issued_afterwards(
    sim: SimulatorProcess, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    app = control.add_app(tenant["tenant_id"], permissions=["User.Read.All"])
    before = _token(sim, app, tenant["tenant_id"], app["client_secret"])["access_token"]

    control.set_permissions(tenant["tenant_id"], app["client_id"], ["Device.Read.All"])
    after = _token(sim, app, tenant["tenant_id"], app["client_secret"])["access_token"]

    with graph_client(sim, before) as old, graph_client(sim, after) as new:
        assert old.get("/v1.0/users/delta").status_code == 200
        assert new.get("/v1.0/users/delta").status_code == 403
        assert new.get("/v1.0/devices/delta").status_code == 200


def test_the_token_lifetime_is_configurable_and_an_expired_token_is_401(
    sim: SimulatorProcess, control: SimulatorControl, tenant: dict[str, Any], restore_settings: None
) -> None:
    control.configure(token_lifetime=120)
    result = _token(sim, tenant, tenant["tenant_id"], tenant["client_secret"])
    assert result["expires_in"] <= 120

    with graph_client(sim, result["access_token"]) as graph:
        assert graph.get("/v1.0/organization").status_code == 200
        control.advance_clock(121)
        expired = graph.get("/v1.0/organization")
        control.advance_clock(-121)

    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "expired" in expired.json()["error"]["message"]
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


def test_every_verified_domain_reaches_the_tenant(
    sim: SimulatorProcess, tenant: dict[str, Any]
) -> None:
    with httpx.Client(verify=client_ssl_context(sim.ca_file), trust_env=False) as client:
        documents = [
            client.get(f"{sim.authority_host}/{key}/v2.0/.well-known/openid-configuration")
            for key in [tenant["tenant_id"], *tenant["domains"]]
        ]

    assert len(tenant["domains"]) >= 2
    assert {d.json()["issuer"] for d in documents} == {
        f"{sim.authority_host}/{tenant['tenant_id']}/v2.0"
    }
    result = _token(sim, tenant, tenant["domains"][1], tenant["client_secret"])
    assert "access_token" in result, result
