"""Integration tests of the syncer.

Real: nats-server with JetStream (the session `infra`), the Graph/Entra simulator as a child
process serving HTTPS with its own CA, MSAL and httpx talking to it, and the syncer's FastStream
app (started in-process, or as the `entrasync-syncer` process). Faked: config's
`credential.get` API, answered by a nats-py subscription carrying the simulator's endpoints and
CA (config is another service; see syncer_helpers.serve_credentials).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from entrasync_devtools.infra import LocalInfra
from entrasync_shared.messages import Credential
from entrasync_shared.subjects import Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.main import build_app
from entrasync_syncer.settings import Settings
from nats.aio.client import Client as NatsClient
from syncer_helpers import PipelineWatcher, serve_credentials

USERS, GROUPS, DEVICES = 60, 5, 10


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    # A member slice of 2 spreads the groups over 31 entries: one group straddles two pages.
    with SimulatorProcess(
        users=USERS,
        groups=GROUPS,
        devices=DEVICES,
        page_size=25,
        seed=7,
        extra_args=("--member-slice", "2"),
    ) as process:
        yield process


@pytest.fixture(scope="module")
def control(sim: SimulatorProcess) -> Iterator[SimulatorControl]:
    with SimulatorControl(sim.control_url, sim.ca_file) as client:
        yield client


@pytest.fixture
def sim_tenant(sim: SimulatorProcess) -> str:
    return sim.tenants[0]["tenant_id"]


@pytest.fixture
def settings(infra: LocalInfra, prefix: str) -> Settings:
    return Settings(
        ENTRASYNC_NATS_URL=infra.nats_url,
        ENTRASYNC_PREFIX=prefix,
        keepalive=0.5,
        nak_delay=0.2,
        fetch_timeout=0.5,
    )


@pytest.fixture
async def credentials(nc: NatsClient, names: Names) -> AsyncIterator[dict[str, Credential]]:
    """Tenant id → credential that the fake config hands out; tests fill it."""
    known: dict[str, Credential] = {}
    subscription = await serve_credentials(nc, names, known)
    yield known
    await subscription.unsubscribe()


@pytest.fixture
async def syncer(settings: Settings, nc: NatsClient) -> AsyncIterator[None]:
    app = build_app(settings)
    await app.start()
    yield
    await app.stop()


@pytest.fixture
async def watcher(nc: NatsClient, names: Names) -> AsyncIterator[PipelineWatcher]:
    async with PipelineWatcher(nc, names) as watching:
        yield watching
