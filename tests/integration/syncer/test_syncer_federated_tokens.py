"""The syncer's token source with a federated credential (workload identity): MSAL presents the
projected token, read from its file at each request; a token file gone is a final, explained
failure, not an outage to retry.

Real: the simulator's token endpoint over TLS and MSAL; the token is signed by an in-process
issuer whose keys the simulator trusts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from entrasync_shared.messages import Credential
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.adapters.tokens import MsalTokenSource
from entrasync_syncer.domain import RetryPolicy
from entrasync_syncer.ports import TokenError
from support.federation import WorkloadIssuer
from syncer_helpers import simulator_credential

PATIENT = RetryPolicy(max_attempts=5, backoff_base=0.05, backoff_cap=0.1, budget_seconds=30)


@pytest.fixture(scope="module")
def workload(control: SimulatorControl) -> WorkloadIssuer:
    issuer = WorkloadIssuer()
    control.trust_issuer(issuer.issuer, issuer.jwks())
    return issuer


@pytest.fixture(scope="module")
def app(sim: SimulatorProcess, control: SimulatorControl, workload: WorkloadIssuer) -> dict:
    federated = [workload.credential()]
    added: dict[str, Any] = control.add_app(
        sim.tenants[0]["tenant_id"], secret=False, certificate=False, federated=federated
    )
    return added


def federated(sim: SimulatorProcess, app: dict[str, Any], token_file: Path) -> Credential:
    base = simulator_credential(sim, "wi").model_dump(exclude={"client_secret"})
    return Credential.model_validate(
        {
            **base,
            "client_id": app["client_id"],
            "kind": "federated",
            "federated_token_file": str(token_file),
        }
    )


async def test_each_token_request_presents_the_token_file_as_it_is_now(
    sim: SimulatorProcess, app: dict[str, Any], workload: WorkloadIssuer, tmp_path: Path
) -> None:
    token_file = workload.write(tmp_path / "token", lifetime=-120)
    credential = federated(sim, app, token_file)
    tokens = MsalTokenSource(PATIENT)
    try:
        with pytest.raises(TokenError) as stale:
            await tokens.token(credential, fresh=True)
        workload.write(token_file)  # the kubelet rotated it
        token = await tokens.token(credential, fresh=True)
    finally:
        tokens.close()

    assert "AADSTS700024" in str(stale.value) and "projected token file" in str(stale.value)
    assert token.count(".") == 2


async def test_a_token_file_that_is_gone_fails_at_once_naming_it(
    sim: SimulatorProcess, app: dict[str, Any], tmp_path: Path
) -> None:
    missing = tmp_path / "not-mounted"
    tokens = MsalTokenSource(PATIENT)
    try:
        with pytest.raises(TokenError) as failed:
            await tokens.token(federated(sim, app, missing), fresh=True)
    finally:
        tokens.close()

    assert str(missing) in str(failed.value) and "cannot be read" in str(failed.value)
