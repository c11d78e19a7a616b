"""Composition root of the config service and its `entrasync-config` entrypoint.

entrasync-config           run the service (settings from ENTRASYNC_* environment variables)
entrasync-config genkey    print a new ENTRASYNC_CONFIG_ENCRYPTION_KEY
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from entrasync_shared.messages import new_id
from entrasync_shared.natsutil import ensure_streams
from faststream import FastStream
from faststream.nats import NatsBroker
from pydantic import ValidationError
from pymongo import AsyncMongoClient

from entrasync_config import handlers
from entrasync_config.adapters import mongo
from entrasync_config.adapters.crypto import AesGcmSecretBox, generate_key
from entrasync_config.adapters.nats import NatsConfigEvents
from entrasync_config.domain import Deps, Unavailable
from entrasync_config.settings import ConfigSettings

log = logging.getLogger("entrasync.config")


class _Runtime:
    """Holds what exists only while the app runs (the Mongo client and the `Deps`)."""

    def __init__(self) -> None:
        self.deps: Deps | None = None
        self.mongo: AsyncMongoClient[mongo.Document] | None = None

    def get(self) -> Deps:
        if self.deps is None:
            raise Unavailable("the config service is still starting")
        return self.deps


def build_app(settings: ConfigSettings) -> FastStream:
    """The config app; refuses (raises `ValueError`) on a bad encryption key or cloud list."""
    box = AesGcmSecretBox.from_setting(settings.encryption_key.get_secret_value())
    clouds = settings.cloud_registry()
    names = settings.names
    broker = NatsBroker(settings.nats_url, name="entrasync-config")
    runtime = _Runtime()
    handlers.register(broker, names, runtime.get)

    async def start() -> None:
        runtime.mongo = mongo.connect(settings.mongodb_uri)
        db = runtime.mongo[settings.db]
        await mongo.ensure_indexes(db)
        await broker.connect()
        await ensure_streams(broker.connection.jetstream(), names)
        runtime.deps = Deps(
            profiles=mongo.MongoProfiles(db),
            tenants=mongo.MongoTenants(db),
            box=box,
            clouds=clouds,
            events=NatsConfigEvents(broker, names),
            now=mongo.now_ms,
            new_id=new_id,
        )

    async def ready() -> None:
        log.info(
            "entrasync-config ready: prefix=%r database=%s clouds=%s",
            settings.prefix,
            settings.db,
            ",".join(clouds.names()),
        )

    async def stop() -> None:
        if runtime.mongo is not None:
            await runtime.mongo.close()

    return FastStream(broker, on_startup=[start], after_startup=[ready], after_shutdown=[stop])


def describe(err: ValidationError) -> str:
    """Setting errors without their input values (they may hold secrets)."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
        for e in err.errors(include_url=False, include_input=False)
    )


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="entrasync-config", description="entrasync config")
    parser.add_argument("command", nargs="?", choices=["serve", "genkey"], default="serve")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "genkey":
        print(generate_key())
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = ConfigSettings()
        logging.getLogger().setLevel(settings.log_level.upper())
        app = build_app(settings)
    except ValidationError as err:
        log.error("entrasync-config cannot start: %s", describe(err))
        raise SystemExit(2) from None
    except ValueError as err:
        log.error("entrasync-config cannot start: %s", err)
        raise SystemExit(2) from None
    asyncio.run(app.run())
