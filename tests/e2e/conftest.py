"""End-to-end fixtures: the whole system, as an operator would run it.

Real: nats-server with JetStream and mongod (session `infra`), the Graph/Entra simulator as its own
HTTPS process with its own CA, and config, scheduler, syncer and history each as a separate
process started from its console script (`entrasync_devtools.stack.ServiceStack`), configured
only through environment variables; tokens come from the real MSAL library. Nothing is faked.
The test talks to the system only over its public NATS API, its public events and MongoDB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from e2e_helpers import CLOUD
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import SERVICES, ServiceStack, simulated_stack_settings
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    extra = ("--member-slice", "15")
    with SimulatorProcess(
        users=90, groups=8, devices=20, page_size=25, seed=7, extra_args=extra
    ) as s:
        yield s


@pytest.fixture(scope="module")
def control(sim: SimulatorProcess) -> Iterator[SimulatorControl]:
    with SimulatorControl(sim.control_url, sim.ca_file) as client:
        yield client


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    """The services `stack` runs: all but the web console, which tests over the NATS API never
    call and which costs a stack about 3 s of CPU (password hashing, its own start). A module
    that uses the console overrides this fixture with `SERVICES`."""
    return tuple(service for service in SERVICES if service != "console")


@pytest.fixture(scope="module")
def stack(
    infra: LocalInfra,
    sim: SimulatorProcess,
    stack_services: tuple[str, ...],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceStack]:
    workdir: Path = tmp_path_factory.mktemp("stack")
    env, prefix = simulated_stack_settings(sim, workdir, "e2e", cloud=CLOUD)
    with ServiceStack(
        infra.nats_url, infra.mongodb_uri, workdir, env, prefix=prefix, services=stack_services
    ) as running:
        yield running


@pytest.fixture
async def bus(stack: ServiceStack) -> AsyncIterator[NatsClient]:
    """A plain NATS connection to the stack (the test's own, like an operator's tool)."""
    client = await nats.connect(stack.nats_url)
    yield client
    await client.drain()
