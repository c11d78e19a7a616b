"""Federated identity credentials over the wire: MSAL sends a workload's token as its client
assertion and the simulator answers a token, or Entra's AADSTS refusal."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
from entrasync_shared.federation import read_assertion
from entrasync_sim.control_client import ControlError, SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from sim_helpers import graph_client, msal_app, msal_session
from support.federation import WorkloadIssuer


@pytest.fixture(scope="module")
def issuer(control: SimulatorControl) -> WorkloadIssuer:
    workload = WorkloadIssuer()
    control.trust_issuer(workload.issuer, workload.jwks())
    return workload


@pytest.fixture(scope="module")
def app(control: SimulatorControl, tenant: dict[str, Any], issuer: WorkloadIssuer) -> dict:
    return control.add_app(
        tenant["tenant_id"], secret=False, certificate=False, federated=[issuer.credential()]
    )


def _token(sim: SimulatorProcess, app: dict[str, Any], token_file: Path) -> dict[str, Any]:
    credential = {"client_assertion": partial(read_assertion, str(token_file))}
    with msal_session(sim.ca_file) as session:
        client = msal_app(sim, app["client_id"], credential, app["tenant"], session)  # type: ignore[arg-type]
        result: dict[str, Any] = client.acquire_token_for_client([f"{sim.graph_url}/.default"])
    return result


@pytest.fixture
def federated(app: dict[str, Any], tenant: dict[str, Any]) -> dict[str, Any]:
    return {**app, "tenant": tenant["tenant_id"]}


def test_an_app_with_only_a_federated_credential_has_no_secret(app: dict[str, Any]) -> None:
    assert app["client_secret"] is None and app["private_key_pem"] is None
    assert app["federated_credentials"][0]["audiences"] == ["api://AzureADTokenExchange"]


def test_msal_gets_a_graph_token_with_the_projected_token(
    sim: SimulatorProcess, federated: dict[str, Any], issuer: WorkloadIssuer, tmp_path: Path
) -> None:
    result = _token(sim, federated, issuer.write(tmp_path / "token"))

    assert "access_token" in result, result
    with graph_client(sim, result["access_token"]) as graph:
        assert graph.get("/v1.0/organization").status_code == 200


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"sub": "system:serviceaccount:default:default"}, 700213),
        ({"iss": "https://another-cluster.test/"}, 700211),
        ({"aud": ["api://other"]}, 700212),
        ({"lifetime": -60}, 700024),
    ],
)
def test_a_mismatching_token_is_refused_with_entras_code(
    sim: SimulatorProcess,
    federated: dict[str, Any],
    issuer: WorkloadIssuer,
    tmp_path: Path,
    claims: dict[str, Any],
    code: int,
) -> None:
    result = _token(sim, federated, issuer.write(tmp_path / "token", **claims))

    assert result.get("error_codes") == [code], result
    assert f"AADSTS{code}:" in result["error_description"]


def test_a_token_from_an_untrusted_issuer_is_refused_with_50166(
    sim: SimulatorProcess, control: SimulatorControl, tenant: dict[str, Any], tmp_path: Path
) -> None:
    stranger = WorkloadIssuer()
    app = control.add_app(
        tenant["tenant_id"], secret=False, certificate=False, federated=[stranger.credential()]
    )

    result = _token(sim, {**app, "tenant": tenant["tenant_id"]}, stranger.write(tmp_path / "t"))

    assert result.get("error_codes") == [50166], result


def test_the_token_file_is_read_again_for_each_request(
    sim: SimulatorProcess, federated: dict[str, Any], issuer: WorkloadIssuer, tmp_path: Path
) -> None:
    token_file = issuer.write(tmp_path / "token", lifetime=-60)
    assert _token(sim, federated, token_file).get("error_codes") == [700024]

    issuer.write(token_file)  # the kubelet rotated it

    assert "access_token" in _token(sim, federated, token_file)


def test_the_control_api_refuses_an_app_without_any_credential(
    control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    with pytest.raises(ControlError, match="federated credential"):
        control.add_app(tenant["tenant_id"], secret=False, certificate=False)


def test_the_control_api_refuses_a_jwks_without_keys(control: SimulatorControl) -> None:
    with pytest.raises(ControlError, match="JWKS"):
        control.trust_issuer("https://issuer.test/", {"keys": []})
