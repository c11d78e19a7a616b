"""A tenant is tested and synced through an egress proxy, whose password no service logs.

Real: the whole stack as processes (conftest.py), and a `CONNECT` proxy as its own process
(`support.connect_proxy`) requiring a user and password. The simulated cloud's host,
`sim.lab.example`, is resolvable by the proxy only, so config and the syncer reach Entra ID and
Graph through it or not at all; they learn the proxy from `HTTPS_PROXY` (with `NO_PROXY` for
loopback), as an operator sets it, and run at DEBUG level for the canary.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from e2e_helpers import register, run_now
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack, simulated_stack_settings
from entrasync_shared.messages import ConnectionTestResult, TenantTest
from entrasync_shared.natsutil import call
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from support.connect_proxy import ConnectProxy

pytestmark = pytest.mark.timeout(180)

CLOUD = "proxylab"
HOST = "sim.lab.example"
PROXY_PASSWORD = "pr0xy-canary-e2e-51c9"


@pytest.fixture(scope="module")
def proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy({HOST: "127.0.0.1"}, auth=f"entrasync:{PROXY_PASSWORD}") as running:
        yield running


@pytest.fixture(scope="module")
def stack(
    infra: LocalInfra,
    sim: SimulatorProcess,
    proxy: ConnectProxy,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceStack]:
    workdir: Path = tmp_path_factory.mktemp("proxy-stack")
    env, prefix = simulated_stack_settings(sim, workdir, "proxy", cloud=CLOUD)
    base = f"https://{HOST}:{urlsplit(sim.graph_url).port}"
    cloud = {"authority_host": base, "graph_url": base, "ca_file": sim.ca_file}
    env.update(
        ENTRASYNC_CLOUDS=json.dumps({CLOUD: cloud}),
        HTTPS_PROXY=proxy.url,
        NO_PROXY="localhost,127.0.0.1",
        ENTRASYNC_LOG_LEVEL="DEBUG",
    )
    services = ("config", "history", "syncer", "scheduler", "receiver")  # no console: unused
    with ServiceStack(
        infra.nats_url, infra.mongodb_uri, workdir, env, prefix=prefix, services=services
    ) as running:
        yield running


async def test_a_tenant_is_tested_and_synced_through_the_proxy(
    bus: NatsClient, stack: ServiceStack, sim: SimulatorProcess, proxy: ConnectProxy
) -> None:
    tenant = await register(bus, stack, sim.tenants[0], cloud=CLOUD)
    tested = await call(
        bus,
        stack.names.api("config", "tenant.test"),
        TenantTest(tenant_id=tenant.id),
        ConnectionTestResult,
        timeout=30,
    )
    assert tested.ok, tested
    # The host resolves at the proxy only: a run that succeeds went through it. (The first,
    # scheduled on registration, may already have opened the syncer's pooled connections.)
    run = await run_now(bus, stack, tenant.id)
    assert run["status"] == "Succeeded"
    assert set(proxy.tunnels()) == {f"{HOST}:{urlsplit(sim.graph_url).port}"}
    for service in ("config", "syncer"):
        log = stack.log_file(service).read_text()
        assert PROXY_PASSWORD not in log, f"{service} logged the proxy password"
    assert "via proxy http://***@127.0.0.1" in stack.log_file("syncer").read_text()
    for service in ("config", "syncer"):  # the start-up line says which proxy is in use
        assert "egress: HTTPS_PROXY=http://***@127.0.0.1" in stack.log_file(service).read_text()
