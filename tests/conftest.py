"""Fixtures shared by every test level.

Real: `infra` starts a real nats-server (JetStream) and a real mongod (one-node replica set) once
per test session via `entrasync_devtools.infra.LocalInfra` — or uses NATS_URL / MONGODB_URI when
set. Missing binaries fail the session with instructions; nothing is skipped. Isolation between
tests comes from a unique subject/stream prefix and a unique database name per test (`names`,
`db_name`), never from faking.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from entrasync_devtools.infra import LocalInfra
from entrasync_shared.natsutil import ensure_streams
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient


@pytest.fixture(scope="session")
def infra() -> Iterator[LocalInfra]:
    with LocalInfra() as running:
        yield running


@pytest.fixture
def prefix() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def names(prefix: str) -> Names:
    return Names(prefix)


@pytest.fixture
def db_name(prefix: str) -> str:
    return f"entrasync_{prefix}"


@pytest.fixture
async def nc(infra: LocalInfra, names: Names) -> AsyncIterator[NatsClient]:
    """A nats-py connection with this test's streams declared."""
    client = await nats.connect(infra.nats_url)
    await ensure_streams(client.jetstream(), names)
    yield client
    await client.drain()
