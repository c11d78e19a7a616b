"""The simulator's identity side as MSAL sees it, and Graph's token checks."""

from __future__ import annotations

import httpx
import jwt
import pytest
from entrasync_sim.launcher import SimulatorProcess
from entrasync_sim.tls import client_ssl_context
from sim_helpers import acquire_graph_token, graph_client, msal_app, msal_session


def test_msal_gets_a_token_addressing_the_tenant_by_guid(
    sim: SimulatorProcess, tenant: dict[str, str]
) -> None:
    token = acquire_graph_token(sim, tenant, tenant["tenant_id"])

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["tid"] == tenant["tenant_id"]
    assert claims["appid"] == tenant["client_id"]


def test_msal_gets_a_token_addressing_the_tenant_by_domain(
    sim: SimulatorProcess, tenant: dict[str, str]
) -> None:
    token = acquire_graph_token(sim, tenant, tenant["domain"])

    assert jwt.decode(token, options={"verify_signature": False})["tid"] == tenant["tenant_id"]


def test_wrong_secret_is_invalid_client_7000215(
    sim: SimulatorProcess, tenant: dict[str, str]
) -> None:
    with msal_session(sim.ca_file) as session:
        app = msal_app(sim, tenant["client_id"], "wrong", tenant["tenant_id"], session)
        result = app.acquire_token_for_client([f"{sim.graph_url}/.default"])

    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215:")


def test_unknown_client_is_unauthorized_client_700016(
    sim: SimulatorProcess, tenant: dict[str, str]
) -> None:
    unknown = "00000000-0000-4000-8000-000000000001"
    with msal_session(sim.ca_file) as session:
        app = msal_app(sim, unknown, tenant["client_secret"], tenant["tenant_id"], session)
        result = app.acquire_token_for_client([f"{sim.graph_url}/.default"])

    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [700016]


def test_unknown_tenant_fails_msal_discovery(sim: SimulatorProcess, tenant: dict[str, str]) -> None:
    with msal_session(sim.ca_file) as session, pytest.raises(ValueError):
        msal_app(sim, tenant["client_id"], tenant["client_secret"], "nope.example", session)


def test_unknown_tenant_is_invalid_request_90002_at_the_token_endpoint(
    sim: SimulatorProcess, tenant: dict[str, str]
) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": tenant["client_id"],
        "client_secret": tenant["client_secret"],
        "scope": f"{sim.graph_url}/.default",
    }
    with httpx.Client(verify=client_ssl_context(sim.ca_file), trust_env=False) as client:
        token = client.post(f"{sim.authority_host}/nope.example/oauth2/v2.0/token", data=form)
        discovery = client.get(
            f"{sim.authority_host}/nope.example/v2.0/.well-known/openid-configuration"
        )

    assert token.status_code == 400
    assert token.json()["error"] == "invalid_request"
    assert token.json()["error_codes"] == [90002]
    assert discovery.status_code == 400
    assert discovery.json()["error"] == "invalid_tenant"
    assert set(discovery.json()) >= {"timestamp", "trace_id", "correlation_id", "error_uri"}


def test_discovery_by_domain_names_the_tenant_guid(
    sim: SimulatorProcess, tenant: dict[str, str]
) -> None:
    url = f"{sim.authority_host}/{tenant['domain']}/v2.0/.well-known/openid-configuration"
    with httpx.Client(verify=client_ssl_context(sim.ca_file), trust_env=False) as client:
        document = client.get(url).json()

    assert document["issuer"] == f"{sim.authority_host}/{tenant['tenant_id']}/v2.0"
    assert document["token_endpoint"].split("/")[3] == tenant["tenant_id"]


def test_a_wrong_scope_is_refused(sim: SimulatorProcess, tenant: dict[str, str]) -> None:
    with msal_session(sim.ca_file) as session:
        app = msal_app(
            sim, tenant["client_id"], tenant["client_secret"], tenant["tenant_id"], session
        )
        result = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])

    assert result["error"] == "invalid_resource"


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer garbage", "Basic abc", "Bearer " + jwt.encode({"tid": "x", "exp": 1}, "k" * 32)],
)
def test_graph_refuses_a_bad_token_with_401(sim: SimulatorProcess, authorization: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with httpx.Client(verify=client_ssl_context(sim.ca_file), trust_env=False) as client:
        response = client.get(f"{sim.graph_url}/v1.0/users/delta", headers=headers)

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


def test_organization_describes_the_tokens_tenant(
    sim: SimulatorProcess, tenant: dict[str, str], graph: httpx.Client
) -> None:
    response = graph.get("/v1.0/organization")

    assert response.status_code == 200
    [organization] = response.json()["value"]
    assert organization["id"] == tenant["tenant_id"]
    assert organization["verifiedDomains"][0]["name"] == tenant["domain"]
    assert organization["verifiedDomains"][0]["isDefault"] is True


def test_each_tenant_only_sees_its_own_directory() -> None:
    with SimulatorProcess(users=3, groups=1, devices=1, tenants=2) as sim:
        first, second = sim.tenants
        assert first["tenant_id"] != second["tenant_id"]
        token = acquire_graph_token(sim, second, second["domain"])
        with graph_client(sim, token) as client:
            organization = client.get("/v1.0/organization").json()["value"][0]

    assert organization["id"] == second["tenant_id"]
