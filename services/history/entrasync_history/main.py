"""Composition root: settings → adapters → handlers → one FastStream app.

Nothing connects at import time; `build_app` wires everything and the app's startup hook
declares the streams and the MongoDB indexes before the subscribers start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from entrasync_shared.deadletter import DeadLetters
from entrasync_shared.health import HealthHooks, mongo_answers, nats_connected
from entrasync_shared.kit.tracing import configure_tracing, nats_middlewares
from entrasync_shared.logs import configure_logging
from entrasync_shared.natsutil import ensure_streams, subscriptions_in_place
from entrasync_shared.runtime import settle_after_startup
from faststream import FastStream
from faststream.nats import NatsBroker
from nats import micro
from pymongo import AsyncMongoClient

from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_history.adapters.nats import JetStreamEventPublisher
from entrasync_history.adapters.queries import MongoHistoryQueries
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.usecases.pipeline import Context
from entrasync_history.entrypoints.pipeline import Deps, register, sweep_purged_forever
from entrasync_history.usecases.outbox import publish_outboxes_forever
from entrasync_history.settings import Settings

log = logging.getLogger("entrasync_history")
MICRO_NAME = "entrasync-history"
MICRO_VERSION = "0.1.0"


def build_app(settings: Settings) -> FastStream:
    names = settings.names
    broker = NatsBroker(
        settings.nats_url,
        logger=log,
        inbox_prefix=settings.inbox_prefix,
        middlewares=nats_middlewares(),
    )
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    store = MongoHistoryStore(mongo, settings.history_db, settings.retention_days)
    ctx = Context(
        store=store,
        publisher=JetStreamEventPublisher(broker, names),
        names=names,
        guardrail=GuardrailPolicy(
            max_ratio=settings.delete_guardrail_ratio,
            min_objects=settings.delete_guardrail_min_objects,
        ),
        finish_max_waits=settings.finish_max_waits,
    )
    deps = Deps(
        names=names,
        ctx=ctx,
        store=store,
        queries=MongoHistoryQueries(mongo, settings.history_db, store.rows),
        dead_letters=DeadLetters(broker, names, "history"),
        retry_delay=settings.retry_delay_seconds,
        finish_wait=settings.finish_wait_seconds,
        max_failed_deliveries=settings.max_failed_deliveries,
    )
    register(broker, deps)
    app = FastStream(broker, logger=log)
    discovery: list[micro.Service] = []
    sweeping: list[asyncio.Task[None]] = []  # background loops, cancelled at shutdown
    health = HealthHooks(
        settings.health_port,
        {"nats": nats_connected(lambda: broker.connection), "mongodb": mongo_answers(mongo)},
    )

    @app.on_startup
    async def prepare() -> None:
        connection = await broker.connect()
        await ensure_streams(connection.jetstream(), names)
        await store.ensure_indexes()
        # Answers $SRV.PING/INFO/STATS so ops tools can discover the service.
        discovery.append(
            await micro.add_service(
                connection,
                name=MICRO_NAME,
                version=MICRO_VERSION,
                description="entrasync history: inventory, sync history, change events",
                metadata={"prefix": settings.prefix, "database": settings.history_db},
            )
        )

    @app.after_startup
    async def announce() -> None:
        # Once the server holds every subscription, ready means answering.
        await subscriptions_in_place(await broker.connect())
        await health.start()
        sweeping.append(
            asyncio.create_task(sweep_purged_forever(deps, settings.purge_sweep_seconds))
        )
        # What a crash left between a commit and its publish goes out now, not at the
        # tenant's next commit.
        sweeping.append(
            asyncio.create_task(publish_outboxes_forever(ctx, settings.outbox_retry_seconds))
        )
        settle_after_startup()
        log.info(
            "history ready: consuming %s (durable %s), database %s",
            names.pipeline_stream,
            names.consumer("history", "pipeline"),
            settings.history_db,
        )

    @app.on_shutdown
    async def leave() -> None:
        for task in sweeping:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await health.stop()
        for service in discovery:
            await service.stop()

    @app.after_shutdown
    async def close() -> None:
        await mongo.close()

    return app


def run() -> None:
    settings = Settings()
    configure_logging(settings.log_level.upper())
    configure_tracing("history")  # before `build_app`: its broker takes the tracing middlewares
    asyncio.run(build_app(settings).run(log_level=logging.getLevelName(settings.log_level.upper())))
