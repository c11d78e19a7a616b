"""Fixtures for the Graph/Entra ID simulator's own integration tests.

Real: the simulator runs as a separate process (`python -m entrasync_sim serve`) serving HTTPS
with its own test CA; tokens come from real MSAL (ConfidentialClientApplication) over
`requests`; Graph and control calls go over real httpx connections; the fidelity module drives
Microsoft's own `msgraph-sdk` with `azure-identity` credentials; webhook receivers are real
local HTTP servers (`sim_helpers.webhook_receiver`). Nothing is faked.
Each test module gets its own simulator process, so modules that mutate the directory do not
disturb each other.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from sim_helpers import (
    DEVICES,
    GROUPS,
    MEMBER_SLICE,
    PAGE_SIZE,
    USERS,
    acquire_graph_token,
    graph_client,
)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(
        users=USERS,
        groups=GROUPS,
        devices=DEVICES,
        page_size=PAGE_SIZE,
        seed=1,
        extra_args=("--member-slice", str(MEMBER_SLICE)),
    ) as process:
        yield process


@pytest.fixture(scope="module")
def tenant(sim: SimulatorProcess) -> dict[str, str]:
    return sim.tenants[0]


@pytest.fixture(scope="module")
def control(sim: SimulatorProcess) -> Iterator[SimulatorControl]:
    with SimulatorControl(sim.control_url, sim.ca_file) as client:
        yield client


@pytest.fixture(scope="module")
def graph(sim: SimulatorProcess, tenant: dict[str, str]) -> Iterator[httpx.Client]:
    token = acquire_graph_token(sim, tenant, tenant["tenant_id"])
    with graph_client(sim, token) as client:
        yield client
