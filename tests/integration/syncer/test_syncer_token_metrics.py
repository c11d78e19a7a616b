"""Token requests are counted by credential kind and result: an outage retried then acquired,
a lasting outage unavailable, a refusal refused.

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
from prometheus_client import REGISTRY
from syncer_helpers import simulator_credential

PATIENT = RetryPolicy(max_attempts=5, backoff_base=0.05, backoff_cap=0.1, budget_seconds=30)
IMPATIENT = RetryPolicy(max_attempts=2, backoff_base=0.05, backoff_cap=0.1, budget_seconds=30)
RESULTS = ("acquired", "retried", "refused", "unavailable")


@pytest.fixture
def faults(control: SimulatorControl) -> Iterator[SimulatorControl]:
    control.clear_faults()
    yield control
    control.clear_faults()


def counts() -> dict[str, float]:
    name = "entrasync_syncer_token_requests_total"
    return {
        result: REGISTRY.get_sample_value(name, {"kind": "secret", "result": result}) or 0.0
        for result in RESULTS
    }


def moved(before: dict[str, float]) -> dict[str, float]:
    after = counts()
    return {result: after[result] - before[result] for result in RESULTS if after != before}


async def test_token_requests_count_by_result(
    sim: SimulatorProcess, faults: SimulatorControl
) -> None:
    tokens = MsalTokenSource(PATIENT)
    impatient = MsalTokenSource(IMPATIENT)
    try:
        faults.inject_fault("token", status=503, count=1, retry_after="1")
        before = counts()
        await tokens.token(simulator_credential(sim, "metrics-outage"), fresh=True)
        assert moved(before) == {"acquired": 1, "retried": 1, "refused": 0, "unavailable": 0}

        faults.clear_faults()
        faults.inject_fault("token", status=503, retry_after="1")
        before = counts()
        with pytest.raises(TokenError):
            await impatient.token(simulator_credential(sim, "metrics-down"), fresh=True)
        assert moved(before) == {"acquired": 0, "retried": 1, "refused": 0, "unavailable": 1}

        faults.clear_faults()
        before = counts()
        with pytest.raises(TokenError):
            wrong = simulator_credential(sim, "metrics-wrong", secret="not-the-secret")
            await tokens.token(wrong)
        assert moved(before) == {"acquired": 0, "retried": 0, "refused": 1, "unavailable": 0}
    finally:
        tokens.close()
        impatient.close()
