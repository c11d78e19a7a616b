"""Integration tests of the history service.

Real: nats-server with JetStream and mongod (one-node replica set) from the session `infra`;
the service runs in-process as its FastStream app (`build_app`), or as the `entrasync-history`
script in a subprocess for the smoke test. The syncer is the only thing stood in for: tests
publish hand-built pipeline messages with nats-py JetStream, as the syncer would, or (to have
thousands of Sync History rows in seconds) record runs through the service's own MongoDB store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from entrasync_devtools.infra import LocalInfra
from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_history.main import build_app
from entrasync_shared.subjects import Names
from history_helpers import Pipeline, history_settings
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient


@pytest.fixture
async def history(
    infra: LocalInfra, names: Names, db_name: str, nc: NatsClient
) -> AsyncIterator[None]:
    """The history service running in this process for the test's prefix and database."""
    async with build_app(history_settings(infra, names, db_name)):
        yield


@pytest.fixture
async def db(infra: LocalInfra, db_name: str) -> AsyncIterator[object]:
    client: AsyncMongoClient[dict] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    yield client[db_name]
    await client.drop_database(db_name)
    await client.close()


@pytest.fixture
def pipeline(nc: NatsClient, names: Names) -> Pipeline:
    return Pipeline(nc, names)


@pytest.fixture
async def store(infra: LocalInfra, db_name: str, db: object) -> AsyncIterator[MongoHistoryStore]:
    """The service's own store on the test's database, for seeding many rows quickly."""
    client: AsyncMongoClient[dict] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    seeded = MongoHistoryStore(client, db_name, retention_days=90)
    await seeded.ensure_indexes()
    yield seeded
    await client.close()
