"""Fixtures for the scheduler's integration tests.

Real: nats-server with JetStream and mongod (session `infra`); the config service and one or
more scheduler apps, each built by its own `build_app` and run in-process. Faked: only the
schedulers' clock (`FakeClock`), so a test moves to the next slot without waiting for it; the
`sync.recorded` events history would publish are published by the test itself.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from entrasync_config.adapters.crypto import generate_key
from entrasync_config.main import build_app as build_config_app
from entrasync_config.settings import ConfigSettings
from entrasync_devtools.infra import LocalInfra
from entrasync_scheduler.main import build_app as build_scheduler_app
from entrasync_scheduler.settings import SchedulerSettings
from entrasync_shared.subjects import Names
from scheduler_helpers import INTERVAL
from support.fakes import FakeClock


@pytest.fixture
def config_settings(infra: LocalInfra, names: Names, db_name: str) -> ConfigSettings:
    return ConfigSettings(
        nats_url=infra.nats_url,
        mongodb_uri=infra.mongodb_uri,
        prefix=names.prefix,
        db=db_name,
        encryption_key=generate_key(),
    )


@pytest.fixture
def scheduler_settings(infra: LocalInfra, names: Names) -> SchedulerSettings:
    return SchedulerSettings(
        nats_url=infra.nats_url, prefix=names.prefix, jitter_seconds=0, tick_seconds=0.05
    )


@pytest.fixture
def clock() -> FakeClock:
    """Starts just after a slot boundary so one `advance(INTERVAL)` is exactly one slot on."""
    return FakeClock(time.time() // INTERVAL * INTERVAL + 1)


@pytest.fixture
async def config_service(config_settings: ConfigSettings) -> AsyncIterator[None]:
    async with build_config_app(config_settings):
        yield


@pytest.fixture
async def scheduler(
    config_service: None, scheduler_settings: SchedulerSettings, clock: FakeClock
) -> AsyncIterator[None]:
    async with build_scheduler_app(scheduler_settings, clock=clock):
        yield
