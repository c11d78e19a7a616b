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
from entrasync_shared.kit.service import run_service
from entrasync_shared.kit.tracing import nats_middlewares
from entrasync_shared.natsutil import ensure_streams, subscriptions_in_place
from entrasync_shared.runtime import settle_after_startup
from faststream import FastStream
from faststream.nats import NatsBroker
from pymongo import AsyncMongoClient

from entrasync_history.adapters import metrics
from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_history.adapters.mongo_outages import MONGO_OUTAGES
from entrasync_history.adapters.nats import JetStreamEventPublisher
from entrasync_history.adapters.queries import MongoHistoryQueries
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.entrypoints.api import api
from entrasync_history.entrypoints.background import (
    retry_held_finishes_forever,
    sweep_purged_forever,
)
from entrasync_history.entrypoints.deps import Deps, Stats
from entrasync_history.entrypoints.pipeline import pipelines
from entrasync_history.entrypoints.tenant_deleted import tenant_deleted
from entrasync_history.settings import Settings
from entrasync_history.usecases.outbox import publish_outboxes_forever
from entrasync_history.usecases.pipeline import Context

log = logging.getLogger("entrasync_history")


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
        effective_computed=metrics.effective_computed,
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
        stats=Stats(
            partitions=tuple(c.stats for c in pipelines), tenant_deleted=tenant_deleted.stats
        ),
    )
    attach(broker, deps, settings)
    api.attach(
        broker,
        names,
        lambda: deps,
        metadata={"prefix": settings.prefix, "database": settings.history_db},
    )
    app = FastStream(broker, logger=log)
    sweeping: list[asyncio.Task[None]] = []  # background loops, cancelled at shutdown
    health = HealthHooks(
        settings.health_port,
        {"nats": nats_connected(lambda: broker.connection), "mongodb": mongo_answers(mongo)},
    )

    @app.on_startup
    async def prepare() -> None:
        connection = await broker.connect()
        await ensure_streams(connection.jetstream(), names)
        # A durable created before `max_ack_pending=1` (or with another ack wait) gets it now.
        for consumer in pipelines:
            await consumer.update_existing(
                connection.jetstream(), names, ack_wait=settings.pipeline_ack_wait_seconds
            )
        await store.ensure_indexes()

    @app.after_startup
    async def announce() -> None:
        # Once the server holds every subscription, ready means answering.
        await subscriptions_in_place(await broker.connect())
        await health.start()
        sweeping.append(
            asyncio.create_task(sweep_purged_forever(deps, settings.purge_sweep_seconds))
        )
        sweeping.append(
            asyncio.create_task(retry_held_finishes_forever(deps, settings.finish_wait_seconds))
        )
        # What a crash left between a commit and its publish goes out now, not at the
        # tenant's next commit.
        sweeping.append(
            asyncio.create_task(
                publish_outboxes_forever(ctx, settings.outbox_retry_seconds, deps.locks)
            )
        )
        settle_after_startup()
        log.info(
            "history ready: consuming %s (%d partitions, durables %s…), database %s",
            names.pipeline_stream,
            len(pipelines),
            names.consumer("history", pipelines[0].durable.purpose),
            settings.history_db,
        )

    @app.on_shutdown
    async def leave() -> None:
        for task in sweeping:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await health.stop()

    @app.after_shutdown
    async def close() -> None:
        await mongo.close()

    return app


def attach(broker: NatsBroker, deps: Deps, settings: Settings) -> None:
    """Both consumers, with history's parking, outages and redelivery settings."""
    for consumer in (*pipelines, tenant_deleted):
        consumer.attach(
            broker,
            deps.names,
            lambda: deps,
            parking=deps.dead_letters,
            outages=MONGO_OUTAGES,
            max_failed_deliveries=deps.max_failed_deliveries,
            retry_delay=deps.retry_delay,
            # Only the pipeline's: the tenant-deleted durable keeps its declared ack wait.
            ack_wait=None if consumer is tenant_deleted else settings.pipeline_ack_wait_seconds,
            keepalive=settings.keepalive_seconds,
        )


def run() -> None:
    """Console entry point `entrasync-history`."""
    run_service("history", Settings, build_app)
