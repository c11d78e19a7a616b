"""Token endpoint outages are retried like Graph calls; a refusal names its AADSTS code and fix.

Real: the simulator's token endpoint over TLS and MSAL; faults are the simulator's own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.adapters.tokens import MsalTokenSource
from entrasync_syncer.domain import RetryPolicy
from entrasync_syncer.ports import TokenError
from syncer_helpers import simulator_credential

PATIENT = RetryPolicy(max_attempts=5, backoff_base=0.05, backoff_cap=0.1, budget_seconds=30)
IMPATIENT = RetryPolicy(max_attempts=2, backoff_base=0.05, backoff_cap=0.1, budget_seconds=30)


@pytest.fixture
def faults(control: SimulatorControl) -> Iterator[SimulatorControl]:
    control.clear_faults()
    yield control
    control.clear_faults()


async def test_a_token_endpoint_outage_is_retried_until_it_answers(
    sim: SimulatorProcess, faults: SimulatorControl
) -> None:
    faults.inject_fault("token", status=503, count=2, retry_after="1")
    tokens = MsalTokenSource(PATIENT)
    try:
        token = await tokens.token(simulator_credential(sim, "outage"), fresh=True)
    finally:
        tokens.close()
    assert token.count(".") == 2  # a JWT
    assert [f["hits"] for f in faults.faults()] == [2]


async def test_an_unreachable_token_endpoint_is_retried(
    sim: SimulatorProcess, faults: SimulatorControl
) -> None:
    faults.inject_fault("token", reset=True, count=1)
    tokens = MsalTokenSource(PATIENT)
    try:
        assert await tokens.token(simulator_credential(sim, "reset"), fresh=True)
    finally:
        tokens.close()


async def test_a_lasting_outage_fails_naming_the_status_and_what_to_check(
    sim: SimulatorProcess, faults: SimulatorControl
) -> None:
    faults.inject_fault("token", status=503, retry_after="1")
    tokens = MsalTokenSource(IMPATIENT)
    try:
        with pytest.raises(TokenError) as failed:
            await tokens.token(simulator_credential(sim, "down"), fresh=True)
    finally:
        tokens.close()
    message = str(failed.value)
    assert "HTTP 503" in message and "after 2 attempts" in message
    assert sim.authority_host in message and "proxy" in message


async def test_a_refusal_is_final_and_names_the_aadsts_code_and_the_fix(
    sim: SimulatorProcess, faults: SimulatorControl
) -> None:
    tokens = MsalTokenSource(PATIENT)
    try:
        with pytest.raises(TokenError) as refused:
            await tokens.token(simulator_credential(sim, "wrong", secret="not-the-secret"))
    finally:
        tokens.close()
    message = str(refused.value)
    assert "AADSTS7000215" in message and "Secret ID" in message
