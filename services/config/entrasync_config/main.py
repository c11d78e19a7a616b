"""Composition root of the config service and its `entrasync-config` entrypoint.

entrasync-config             run the service (settings from ENTRASYNC_* environment variables)
entrasync-config genkey      print a new encryption key
entrasync-config reencrypt   seal every stored secret with the newest key (after a rotation)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from importlib.metadata import version

from entrasync_shared.health import HealthHooks, mongo_answers, nats_connected
from entrasync_shared.kit.service import load_settings, run_service
from entrasync_shared.kit.tracing import nats_middlewares
from entrasync_shared.logs import configure_logging
from entrasync_shared.messages import KeysReencrypted, new_id
from entrasync_shared.natsutil import ensure_streams, subscriptions_in_place
from faststream import FastStream
from faststream.nats import NatsBroker
from pymongo import AsyncMongoClient

from entrasync_config import usecases
from entrasync_config.adapters import mongo, mongo_stores
from entrasync_config.adapters.crypto import AesGcmSecretBox, generate_key, parse_keys
from entrasync_config.adapters.entra import HttpEntraProbe
from entrasync_config.adapters.mongo_outages import MONGO_OUTAGES
from entrasync_config.adapters.nats import NatsOutboxRelay
from entrasync_config.domain import Unavailable
from entrasync_config.entrypoints.api import api
from entrasync_config.entrypoints.metrics import sample_config
from entrasync_config.entrypoints.sync_recorded import sync_recorded
from entrasync_config.ports import Deps
from entrasync_config.settings import ConfigSettings

log = logging.getLogger("entrasync.config")


class _Runtime:
    """Holds what exists only while the app runs (clients, `Deps`, the relay task)."""

    def __init__(self) -> None:
        self.deps: Deps | None = None
        self.mongo: AsyncMongoClient[mongo.Document] | None = None
        self.relay: asyncio.Task[None] | None = None
        self.probe: HttpEntraProbe | None = None

    def get(self) -> Deps:
        if self.deps is None:
            raise Unavailable("the config service is still starting")
        return self.deps


def secret_box(settings: ConfigSettings) -> AesGcmSecretBox:
    """The box from the configured keys; `ValueError` (no key quoted) when they are unusable."""
    text, source = settings.encryption_keys()
    return AesGcmSecretBox(parse_keys(text, source))


def build_app(settings: ConfigSettings) -> FastStream:
    """The config app; refuses (raises `ValueError`) on a bad encryption key or cloud list."""
    box = secret_box(settings)
    clouds = settings.cloud_registry()
    proxies = settings.egress_proxies()
    names = settings.names
    broker = NatsBroker(
        settings.nats_url,
        name="entrasync-config",
        logger=logging.getLogger("entrasync.config.broker"),  # our format, JSON included
        inbox_prefix=settings.inbox_prefix,
        middlewares=nats_middlewares(),
    )
    runtime = _Runtime()
    api.attach(
        broker,
        names,
        runtime.get,
        version=version("entrasync-config"),
        metadata={"prefix": settings.prefix, "key_id": box.key_id},
    )
    sync_recorded.attach(
        broker,
        names,
        runtime.get,
        outages=(Unavailable, *MONGO_OUTAGES),
        max_failed_deliveries=settings.max_failed_deliveries,
        fetch_timeout=settings.fetch_timeout_seconds,
    )
    sample_config(runtime.get)

    async def start() -> None:
        runtime.mongo = mongo.connect(settings.mongodb_uri)
        db = runtime.mongo[settings.db]
        await mongo.ensure_indexes(db)
        await broker.connect()
        await ensure_streams(broker.connection.jetstream(), names)
        relay = NatsOutboxRelay(broker, names, mongo.MongoOutbox(db))
        runtime.probe = HttpEntraProbe(proxies)
        runtime.deps = Deps(
            profiles=mongo_stores.MongoProfiles(db),
            tenants=mongo_stores.MongoTenants(db),
            box=box,
            clouds=clouds,
            events=relay,
            probe=runtime.probe,
            now=mongo.now_ms,
            new_id=new_id,
            test_timeout=settings.test_timeout_seconds,
            notifications=bool(settings.notification_url),
        )
        await usecases.announce(runtime.deps)  # events committed before a crash or outage
        runtime.relay = asyncio.create_task(relay.relay_forever(settings.outbox_interval_seconds))

    async def mongo_ready() -> bool:
        return runtime.mongo is not None and await mongo_answers(runtime.mongo)()

    health = HealthHooks(
        settings.health_port,
        {"nats": nats_connected(lambda: broker.connection), "mongodb": mongo_ready},
    )

    async def ready() -> None:
        # Once the server holds every subscription, "ready" means answering: no caller
        # started right after us gets "no responders".
        await subscriptions_in_place(broker.connection)
        await health.start()
        log.info(
            "entrasync-config ready: prefix=%r database=%s clouds=%s key=%s egress: %s",
            settings.prefix,
            settings.db,
            ",".join(clouds.names()),
            box.key_id,
            proxies.summary(),
        )

    async def stop_relay() -> None:
        await health.stop()
        if runtime.relay is not None:
            runtime.relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runtime.relay

    async def stop() -> None:
        if runtime.probe is not None:
            runtime.probe.close()
        if runtime.mongo is not None:
            await runtime.mongo.close()

    return FastStream(
        broker,
        on_startup=[start],
        after_startup=[ready],
        on_shutdown=[stop_relay],
        after_shutdown=[stop],
    )


async def reencrypt(settings: ConfigSettings) -> KeysReencrypted:
    """The rotation command: runs against MongoDB directly, no NATS needed."""
    box = secret_box(settings)
    client = mongo.connect(settings.mongodb_uri)
    probe = HttpEntraProbe()
    try:
        db = client[settings.db]
        deps = Deps(
            profiles=mongo_stores.MongoProfiles(db),
            tenants=mongo_stores.MongoTenants(db),
            box=box,
            clouds=settings.cloud_registry(),
            events=_NoEvents(),
            probe=probe,
            now=mongo.now_ms,
            new_id=new_id,
        )
        return await usecases.reencrypt_secrets(deps)
    finally:
        probe.close()
        await client.close()


class _NoEvents:
    """Re-encryption changes no visible state, so it announces nothing."""

    async def flush(self) -> int:
        return 0


def quiet_libraries() -> None:
    # MSAL's and urllib3's debug logs show request details; keep them out of service logs.
    for noisy in ("msal", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def rotate_keys() -> None:
    configure_logging(logging.INFO, service="entrasync-config")
    settings = load_settings("config", ConfigSettings)
    logging.getLogger().setLevel(settings.log_level.upper())
    try:
        result = asyncio.run(reencrypt(settings))
    except ValueError as err:
        log.error("entrasync-config cannot start: %s", err)
        raise SystemExit(2) from None
    print(json.dumps(result.model_dump(mode="json")))
    raise SystemExit(1 if result.unreadable else 0)


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="entrasync-config", description="entrasync config")
    parser.add_argument(
        "command", nargs="?", choices=["serve", "genkey", "reencrypt"], default="serve"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "genkey":
        print(generate_key())
        return
    quiet_libraries()
    if args.command == "reencrypt":
        rotate_keys()
    run_service("config", ConfigSettings, build_app)
