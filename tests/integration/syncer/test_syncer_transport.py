"""The syncer's httpx transport over asyncio streams, against the simulator's real TLS."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from entrasync_shared.messages import Credential
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.adapters.graph import HttpxGraphConnector
from entrasync_syncer.adapters.netstream import AsyncioTransport
from entrasync_syncer.adapters.tokens import MsalTokenSource
from entrasync_syncer.domain import RetryPolicy, full_round_url
from entrasync_syncer.ports import GraphError, RequestStats, TokenSupplier
from syncer_helpers import simulator_credential

QUICK = RetryPolicy(max_attempts=3, backoff_base=0.05, backoff_cap=0.1, budget_seconds=5)


@pytest.fixture
def credential(sim: SimulatorProcess) -> Credential:
    return simulator_credential(sim, "transport")


@pytest.fixture
async def bearer(credential: Credential) -> AsyncIterator[str]:
    tokens = MsalTokenSource()
    yield await tokens.token(credential)
    tokens.close()


async def test_a_whole_round_reads_over_one_pooled_tls_connection(
    sim: SimulatorProcess, credential: Credential, bearer: str
) -> None:
    transport = AsyncioTransport(ssl_context=_verify(credential), limits=httpx.Limits())
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        url: str | None = full_round_url(sim.graph_url, "user")
        pages = entries = 0
        while url:
            response = await client.get(url, headers={"Authorization": f"Bearer {bearer}"})
            response.raise_for_status()
            body = response.json()
            pages, entries = pages + 1, entries + len(body["value"])
            url = body.get("@odata.nextLink")
        assert pages > 1 and entries > pages
        assert len(transport._pool.connections) == 1  # kept alive and reused


async def test_a_slow_answer_times_out_and_the_retry_gets_the_page(
    sim: SimulatorProcess, control: SimulatorControl, credential: Credential, bearer: str
) -> None:
    control.inject_fault("users/delta", latency=2.0, count=1)
    connector = HttpxGraphConnector(QUICK, timeout=0.5)
    stats = RequestStats()
    try:
        async with connector.open(credential.cloud) as reader:
            began = time.monotonic()
            page = await reader.page(full_round_url(sim.graph_url, "user"), _static(bearer), stats)
        assert page.entries and stats.requests == 2
        assert time.monotonic() - began < 2.0  # the slow answer was not waited for
    finally:
        await connector.aclose()
        control.clear_faults()


async def test_a_connection_reset_is_retried(
    sim: SimulatorProcess, control: SimulatorControl, credential: Credential, bearer: str
) -> None:
    control.inject_fault("devices/delta", reset=True, count=1)
    connector = HttpxGraphConnector(QUICK, timeout=5)
    stats = RequestStats()
    try:
        async with connector.open(credential.cloud) as reader:
            url = full_round_url(sim.graph_url, "device")
            page = await reader.page(url, _static(bearer), stats)
        assert page.entries and stats.requests == 2
    finally:
        await connector.aclose()
        control.clear_faults()


async def test_a_server_certificate_from_an_unknown_ca_is_refused(
    sim: SimulatorProcess, credential: Credential, bearer: str
) -> None:
    untrusted = credential.cloud.model_copy(update={"ca_pem": None})  # the system's CAs only
    connector = HttpxGraphConnector(QUICK, timeout=5)
    try:
        async with connector.open(untrusted) as reader:
            with pytest.raises(GraphError, match=r"unreachable \(ConnectError\) after 3 attempts"):
                await reader.page(full_round_url(sim.graph_url, "user"), _static(bearer))
    finally:
        await connector.aclose()


def _verify(credential: Credential) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=credential.cloud.ca_pem)


def _static(bearer: str) -> TokenSupplier:
    async def supplier(fresh: bool) -> str:
        return bearer

    return supplier
