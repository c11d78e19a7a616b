"""Test Connection's requests (discovery, MSAL's token, Graph) through an egress proxy.

Real: the simulator over TLS with its own CA, MSAL, httpx, and a `CONNECT` proxy as its own
process (`support.connect_proxy`). The cloud's host, `sim.lab.example`, is resolvable by the
proxy only: without it, every step fails as behind a firewall that blocks direct egress.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from entrasync_config.adapters.entra import HttpEntraProbe
from entrasync_config.domain import ClientCredential, ProbeFailure
from entrasync_config.domain.explain import explain_discovery
from entrasync_shared.egress import EgressProxies
from entrasync_shared.messages import CloudEndpoints
from entrasync_sim.launcher import SimulatorProcess
from support.connect_proxy import ConnectProxy

HOST = "sim.lab.example"
PROXY_PASSWORD = "pr0xy-canary-c0nf"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    state = tmp_path_factory.mktemp("proxy-sim")
    with SimulatorProcess(users=3, groups=1, devices=1, seed=5, state_dir=state) as running:
        yield running


@pytest.fixture
def cloud(sim: SimulatorProcess) -> CloudEndpoints:
    """The simulator as cloud `lab`, under a name only the proxy resolves."""
    base = f"https://{HOST}:{urlsplit(sim.graph_url).port}"
    with open(sim.ca_file) as ca:
        return CloudEndpoints(name="lab", authority_host=base, graph_url=base, ca_pem=ca.read())


@pytest.fixture
def home(sim: SimulatorProcess) -> dict[str, Any]:
    tenant: dict[str, Any] = sim.tenants[0]
    return tenant


async def test_without_the_proxy_discovery_cannot_reach_the_cloud(
    cloud: CloudEndpoints, home: dict[str, Any]
) -> None:
    probe = HttpEntraProbe(EgressProxies({}, {}))
    try:
        with pytest.raises(ProbeFailure) as failed:
            await probe.discover(cloud, home["domain"], 5)
    finally:
        probe.close()
    assert failed.value.code == "network_error"


async def test_every_step_goes_through_https_proxy(
    cloud: CloudEndpoints, home: dict[str, Any]
) -> None:
    with ConnectProxy({HOST: "127.0.0.1"}) as proxy:
        probe = HttpEntraProbe(EgressProxies({}, {"HTTPS_PROXY": proxy.url}))
        try:
            tenant_id, after_discovery = await _discover(probe, cloud, home), len(proxy.tunnels())
            token = await probe.token(cloud, tenant_id, _credential(home), 10)
            after_token = len(proxy.tunnels())
            organization = await probe.graph_get(cloud, "/v1.0/organization", token, 10)
        finally:
            probe.close()
        assert tenant_id == home["tenant_id"] and organization["value"]
        assert 1 <= after_discovery < after_token < len(proxy.tunnels())
        assert set(proxy.tunnels()) == {urlsplit(cloud.graph_url).netloc}


async def test_a_wrong_proxy_password_fails_the_test_without_showing_it(
    cloud: CloudEndpoints, home: dict[str, Any]
) -> None:
    with ConnectProxy({HOST: "127.0.0.1"}, auth=f"entrasync:{PROXY_PASSWORD}") as proxy:
        wrong = proxy.url.replace(PROXY_PASSWORD, "not-the-password")
        probe = HttpEntraProbe(EgressProxies({"lab": wrong}))
        try:
            with pytest.raises(ProbeFailure) as discovery:
                await probe.discover(cloud, home["domain"], 5)
            with pytest.raises(ProbeFailure) as token:
                await probe.token(cloud, home["tenant_id"], _credential(home), 5)
        finally:
            probe.close()
        assert not proxy.tunnels()
    for failure in (discovery.value, token.value):
        assert failure.code == "proxy_error"
        assert "not-the-password" not in str(failure) and PROXY_PASSWORD not in str(failure)


async def test_an_unreachable_proxy_is_named_as_the_problem(
    cloud: CloudEndpoints, home: dict[str, Any]
) -> None:
    probe = HttpEntraProbe(EgressProxies({}, {"HTTPS_PROXY": "http://127.0.0.1:9"}))
    try:
        with pytest.raises(ProbeFailure) as discovery:
            await probe.discover(cloud, home["domain"], 5)
        with pytest.raises(ProbeFailure) as token:
            await probe.token(cloud, home["tenant_id"], _credential(home), 5)
    finally:
        probe.close()
    assert discovery.value.code == token.value.code == "proxy_error"
    advice = explain_discovery("proxy_error", home["domain"], "lab", HOST, 5)
    assert "egress proxy" in advice and "HTTPS_PROXY" in advice


async def _discover(probe: HttpEntraProbe, cloud: CloudEndpoints, home: dict[str, Any]) -> str:
    return await probe.discover(cloud, home["domain"], 10)


def _credential(home: dict[str, Any]) -> ClientCredential:
    return ClientCredential(client_id=home["client_id"], secret=home["client_secret"])
