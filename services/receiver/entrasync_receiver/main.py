"""Composition root: settings → adapters → `Deps` → a FastStream app (NATS: the health API)
that also serves the public HTTP routes with uvicorn. Nothing connects at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import uvicorn
from entrasync_shared.health import HealthHooks, nats_connected
from entrasync_shared.kit.service import run_service
from entrasync_shared.kit.tracing import nats_middlewares
from entrasync_shared.natsutil import (
    ensure_notify_replay_bucket,
    ensure_streams,
    ensure_subscription_bucket,
    subscriptions_in_place,
)
from faststream import FastStream
from faststream.nats import NatsBroker
from nats.js.kv import KeyValue

from entrasync_receiver.adapters.bus import JetStreamNotifier
from entrasync_receiver.adapters.kv import KvReplayGuard, KvSubscriptions
from entrasync_receiver.adapters.metrics import PrometheusCounters
from entrasync_receiver.domain.ratelimit import TenantRateLimit
from entrasync_receiver.entrypoints.api import api
from entrasync_receiver.entrypoints.http import build_http
from entrasync_receiver.settings import ReceiverSettings
from entrasync_receiver.usecases.receive import Deps

log = logging.getLogger("entrasync.receiver")

KV_TIMEOUT = 0.4
"""Longest wait for one KV step (read the records, create the replay key)."""


def wall_clock() -> datetime:
    return datetime.now(UTC)


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside the FastStream app: the app handles SIGINT/SIGTERM and stops it (uvicorn's
    own handlers would replace the app's, and re-raise the signal after its shutdown)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def uvicorn_config(settings: ReceiverSettings, app: object) -> uvicorn.Config:
    """The public server: TLS when a certificate is given, no server header, no access log
    (refusals are logged by the use case, without bodies)."""
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
        server_header=False,
        proxy_headers=False,
        access_log=False,
        log_config=None,
        lifespan="off",
        # Graph's 3-second budget: a client that sends its body slower than this is cut off.
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=64 * 1024,
        # Graph keeps connections open: don't let an idle one hold up a stop.
        timeout_graceful_shutdown=2,
    )


def build_app(settings: ReceiverSettings) -> FastStream:
    names = settings.names
    broker = NatsBroker(
        settings.nats_url,
        name="entrasync-receiver",
        inbox_prefix=settings.inbox_prefix,
        middlewares=nats_middlewares(),
        logger=logging.getLogger("entrasync.receiver.broker"),  # our format, JSON included
    )
    buckets: dict[str, KeyValue] = {}

    async def subscription_bucket() -> KeyValue:
        if "subscriptions" not in buckets:
            js = broker.config.connection_state.stream
            buckets["subscriptions"] = await ensure_subscription_bucket(js, names)
        return buckets["subscriptions"]

    async def replay_bucket() -> KeyValue:
        if "replay" not in buckets:
            js = broker.config.connection_state.stream
            buckets["replay"] = await ensure_notify_replay_bucket(js, names)
        return buckets["replay"]

    # Graph wants an answer within 3 s: 0.4 s for each KV step (a few ms normally),
    # the rest (ENTRASYNC_RECEIVER_PUBLISH_TIMEOUT_SECONDS, at most 2.5) for the PubAcks.
    deps = Deps(
        subscriptions=KvSubscriptions(
            subscription_bucket, settings.cache_seconds, timeout=KV_TIMEOUT
        ),
        replays=KvReplayGuard(replay_bucket, timeout=KV_TIMEOUT),
        notifier=JetStreamNotifier(broker, names, timeout=settings.publish_timeout),
        counters=PrometheusCounters(),
        limit=TenantRateLimit(settings.rate_per_second, settings.rate_burst),
        wall_clock=wall_clock,
        monotonic=time.monotonic,
    )
    connected = nats_connected(lambda: broker.connection)

    def is_connected() -> bool:
        return broker.connection is not None and bool(broker.connection.is_connected)

    api.attach(broker, names, lambda: is_connected)
    server = EmbeddedServer(uvicorn_config(settings, build_http(lambda: deps)))
    serving: list[asyncio.Task[None]] = []

    async def declare() -> None:
        await broker.connect()
        await ensure_streams(broker.config.connection_state.stream, names)
        await subscription_bucket()
        await replay_bucket()

    async def serve() -> None:
        await subscriptions_in_place(broker.connection)
        serving.append(asyncio.create_task(server.serve(), name="entrasync-receiver-http"))
        while not server.started:
            if serving[0].done():
                serving[0].result()  # the port is taken, the certificate unreadable, ...
                raise RuntimeError("the receiver's HTTP server stopped at start")
            await asyncio.sleep(0.02)
        scheme = "https" if settings.tls_cert_file else "http"
        log.info(
            "receiver ready: %s://%s:%d/notifications and /lifecycle; publishing on %s",
            scheme,
            settings.host,
            settings.port,
            names.notifications_all,
        )

    async def stop() -> None:
        server.should_exit = True
        for task in serving:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    health = HealthHooks(settings.health_port, {"nats": connected})
    return FastStream(
        broker,
        on_startup=[declare],
        after_startup=[serve, health.start],
        on_shutdown=[health.stop, stop],
    )


def run() -> None:
    """Console entry point `entrasync-receiver`."""
    run_service("receiver", ReceiverSettings, build_app)
