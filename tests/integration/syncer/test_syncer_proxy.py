"""The syncer's MSAL token requests and Graph pages through an egress proxy.

Real: the simulator over TLS with its own CA, MSAL, httpx over the syncer's asyncio transport, and
a `CONNECT` proxy as its own process (`support.connect_proxy`). The cloud's host,
`sim.lab.example`, is resolvable by the proxy only: direct egress to it is impossible, as behind
a firewall, and TLS is still checked end to end against the simulator's CA.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from entrasync_shared.egress import EgressProxies
from entrasync_shared.messages import Credential
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.adapters.graph import HttpxGraphConnector
from entrasync_syncer.adapters.tokens import MsalTokenSource
from entrasync_syncer.domain import RetryPolicy, full_round_url
from entrasync_syncer.ports import GraphError, TokenError
from support.connect_proxy import ConnectProxy
from syncer_helpers import simulator_credential

QUICK = RetryPolicy(max_attempts=2, backoff_base=0.05, backoff_cap=0.1, budget_seconds=5)
HOST = "sim.lab.example"
PROXY_PASSWORD = "pr0xy-canary-7f3a"
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture
def behind_proxy(sim: SimulatorProcess) -> Credential:
    """The simulator's tenant in cloud `lab`, addressed by a name only the proxy resolves."""
    credential = simulator_credential(sim, "proxied")
    base = f"https://{HOST}:{urlsplit(sim.graph_url).port}"
    cloud = credential.cloud.model_copy(
        update={"name": "lab", "authority_host": base, "graph_url": base}
    )
    return credential.model_copy(update={"cloud": cloud})


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy({HOST: "127.0.0.1"}) as running:
        yield running


async def test_without_the_proxy_the_cloud_is_out_of_reach(behind_proxy: Credential) -> None:
    tokens = MsalTokenSource(QUICK, proxies=EgressProxies({}, {}))
    try:
        with pytest.raises(TokenError, match="unusable"):
            await tokens.token(behind_proxy)
    finally:
        tokens.close()
    with pytest.raises(GraphError, match=r"Graph unreachable \(ConnectError\)"):
        await _read_users(behind_proxy, EgressProxies({}, {}), "a token")


async def test_tokens_and_pages_go_through_https_proxy(
    behind_proxy: Credential, proxy: ConnectProxy
) -> None:
    proxies = EgressProxies({}, {"HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.1"})
    token = await _token(behind_proxy, proxies)
    through_login = len(proxy.tunnels())
    entries = await _read_users(behind_proxy, proxies, token)
    assert entries > 0
    port = urlsplit(behind_proxy.cloud.graph_url).port
    tunnels = proxy.tunnels()
    assert through_login >= 1 and len(tunnels) > through_login  # discovery+token, then Graph
    assert set(tunnels) == {f"{HOST}:{port}"}


async def test_a_cloud_s_own_proxy_wins_over_https_proxy_and_no_proxy(
    behind_proxy: Credential, proxy: ConnectProxy
) -> None:
    proxies = EgressProxies({"lab": proxy.url}, {"HTTPS_PROXY": NOWHERE, "NO_PROXY": "*"})
    token = await _token(behind_proxy, proxies)
    assert await _read_users(behind_proxy, proxies, token) > 0
    assert proxy.tunnels()


async def test_no_proxy_and_direct_clouds_bypass_the_proxy(sim: SimulatorProcess) -> None:
    credential = simulator_credential(sim, "direct")  # cloud `sim` at 127.0.0.1
    for proxies in (
        EgressProxies({}, {"HTTPS_PROXY": NOWHERE, "NO_PROXY": "127.0.0.1"}),
        EgressProxies({"sim": "direct"}, {"HTTPS_PROXY": NOWHERE}),
    ):
        token = await _token(credential, proxies)
        assert await _read_users(credential, proxies, token) > 0


async def test_proxy_credentials_are_sent_and_never_logged(
    behind_proxy: Credential, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with ConnectProxy({HOST: "127.0.0.1"}, auth=f"entrasync:{PROXY_PASSWORD}") as proxy:
        good = EgressProxies({"lab": proxy.url})
        token = await _token(behind_proxy, good)
        assert await _read_users(behind_proxy, good, token) > 0
        wrong = EgressProxies({"lab": proxy.url.replace(PROXY_PASSWORD, "wrong-password")})
        tokens = MsalTokenSource(QUICK, proxies=wrong)
        try:
            with pytest.raises(TokenError) as refused:
                await tokens.token(behind_proxy, fresh=True)
        finally:
            tokens.close()
        with pytest.raises(GraphError) as unreachable:
            await _read_users(behind_proxy, wrong, token)
    assert "via proxy http://***@127.0.0.1" in caplog.text  # which proxy, without its password
    for text in (caplog.text, str(refused.value), str(unreachable.value)):
        assert PROXY_PASSWORD not in text and "wrong-password" not in text


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("HTTPS_PROXY", f"https://u:{PROXY_PASSWORD}@proxy:3128", "HTTPS_PROXY"),
        (
            "ENTRASYNC_CLOUD_PROXIES",
            f'{{"lab": "u:{PROXY_PASSWORD}@proxy"}}',
            "ENTRASYNC_CLOUD_PROXIES: cloud 'lab'",
        ),
    ],
)
def test_a_malformed_proxy_stops_the_syncer_without_showing_it(
    variable: str, value: str, named: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "entrasync-syncer")],
        env={**env, variable: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert named in done.stderr and "http://host:port" in done.stderr
    assert PROXY_PASSWORD not in done.stderr + done.stdout


async def _token(credential: Credential, proxies: EgressProxies) -> str:
    tokens = MsalTokenSource(QUICK, proxies=proxies)
    try:
        return await tokens.token(credential)
    finally:
        tokens.close()


async def _read_users(credential: Credential, proxies: EgressProxies, token: str) -> int:
    """How many entries a full round of users has, read with `token`."""

    async def supplier(fresh: bool) -> str:
        return token

    connector = HttpxGraphConnector(QUICK, timeout=5, proxies=proxies)
    entries = 0
    try:
        async with connector.open(credential.cloud) as reader:
            url: str | None = full_round_url(credential.cloud.graph_url, "user")
            while url:
                page = await reader.page(url, supplier)
                entries += len(page.entries)
                url = page.next_link
    finally:
        await connector.aclose()
    return entries
