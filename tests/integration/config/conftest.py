"""Fixtures for the config service's integration tests.

Real: nats-server with JetStream and mongod (session `infra`), the config FastStream app built by
`entrasync_config.main.build_app` and run in-process, its MongoDB database, the AES-GCM keys,
and — for Test Connection and the canary test — the Graph/Entra simulator as its own HTTPS
process (real MSAL, real TLS with the simulator's CA). Nothing is faked; each test gets its own
subject prefix and database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from config_helpers import LAB_CA
from entrasync_config.adapters.crypto import generate_key
from entrasync_config.main import build_app
from entrasync_config.settings import ConfigSettings
from entrasync_devtools.infra import LocalInfra
from entrasync_shared.subjects import Names
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


@pytest.fixture
def config_settings(
    infra: LocalInfra, names: Names, db_name: str, tmp_path: Path
) -> ConfigSettings:
    ca_file = tmp_path / "lab-ca.pem"
    ca_file.write_text(LAB_CA)
    return ConfigSettings(
        nats_url=infra.nats_url,
        mongodb_uri=infra.mongodb_uri,
        prefix=names.prefix,
        db=db_name,
        encryption_key=generate_key(),
        clouds={
            "lab": {
                "authority_host": "https://login.lab.test",
                "graph_url": "https://graph.lab.test",
                "ca_file": str(ca_file),
            }
        },
    )


@pytest.fixture
async def config_service(config_settings: ConfigSettings) -> AsyncIterator[None]:
    async with build_app(config_settings):
        yield


@pytest.fixture
async def config_db(infra: LocalInfra, db_name: str) -> AsyncIterator[AsyncDatabase[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    yield client[db_name]
    await client.drop_database(db_name)
    await client.close()
