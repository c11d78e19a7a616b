"""Composition root: settings → adapters → `Deps` → a FastStream app. Nothing connects at import."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

from entrasync_shared.health import HealthHooks, nats_connected
from entrasync_shared.kit.service import run_service
from entrasync_shared.kit.tracing import nats_middlewares
from entrasync_shared.natsutil import (
    ensure_cursor_bucket,
    ensure_streams,
    ensure_subscription_bucket,
    subscriptions_in_place,
)
from entrasync_shared.runtime import settle_after_startup
from faststream import FastStream
from faststream.nats import NatsBroker
from nats.js.kv import KeyValue

from entrasync_syncer.adapters.bus import JetStreamRunPublisher, NatsCredentialSource
from entrasync_syncer.adapters.cursors import KvCursorStore
from entrasync_syncer.adapters.deletions import DeletedTenants
from entrasync_syncer.adapters.graph import HttpxGraphConnector
from entrasync_syncer.adapters.lease import KvRunLeases
from entrasync_syncer.adapters.subscription_api import HttpxSubscriptionConnector
from entrasync_syncer.adapters.subscription_store import KvSubscriptionStore
from entrasync_syncer.adapters.tokens import MsalTokenSource
from entrasync_syncer.entrypoints.api import api
from entrasync_syncer.entrypoints.commands import commands
from entrasync_syncer.entrypoints.deletions import tenant_deleted
from entrasync_syncer.entrypoints.deps import SyncerDeps
from entrasync_syncer.entrypoints.subscriptions import subscriptions
from entrasync_syncer.ports import GraphConnector
from entrasync_syncer.settings import Settings
from entrasync_syncer.usecases.subscriptions import SubscriptionDeps
from entrasync_syncer.usecases.sync import Deps

log = logging.getLogger("entrasync.syncer")

M_MMAP_THRESHOLD = -3
"""glibc's `mallopt` parameter number (malloc.h)."""
MMAP_THRESHOLD = 512 * 1024
"""Above every socket read buffer (asyncio receives into 256 KiB blocks): at 128 KiB each of
those became an mmap, an mremap and a munmap (4,102 in one full run)."""


def pin_mmap_threshold() -> bool:
    """Pin glibc's mmap threshold at `MMAP_THRESHOLD`; True when the C library took it.

    By default the threshold rises to the size of the largest mapped block freed, so the ~1 MB
    response bodies and the batches of big groups' pages end up on the heap, which then only
    grows: the syncer's memory must not grow with the tenant. Other C libraries are left alone.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1)


def tune_process(settings: Settings) -> None:
    """Process-wide tuning once started (`settle_after_startup`, the mmap threshold if on)."""
    settle_after_startup()
    if settings.pin_mmap_threshold and not pin_mmap_threshold():
        log.warning("mallopt(M_MMAP_THRESHOLD) refused; keeping the C library's default")


def build_app(settings: Settings, *, graph: GraphConnector | None = None) -> FastStream:
    """The syncer app; `graph` replaces the httpx Graph connector (tests inject faults)."""
    names = settings.names
    broker = NatsBroker(
        settings.nats_url,
        inbox_prefix=settings.inbox_prefix,
        middlewares=nats_middlewares(),
        logger=logging.getLogger("entrasync.syncer.broker"),  # our format, JSON included
    )
    proxies = settings.egress_proxies()
    tokens = MsalTokenSource(settings.retry_policy, proxies=proxies)

    async def cursor_bucket() -> KeyValue:
        return await ensure_cursor_bucket(broker.config.connection_state.stream, names)

    http = HttpxGraphConnector(settings.retry_policy, settings.http_timeout, proxies=proxies)
    deleted = DeletedTenants()
    deps = Deps(
        credentials=NatsCredentialSource(
            lambda: broker.connection, names, timeout=settings.credential_timeout
        ),
        tokens=tokens,
        graph=graph or http,
        cursors=KvCursorStore(cursor_bucket),
        publisher=JetStreamRunPublisher(broker, names, timeout=settings.publish_timeout),
        leases=KvRunLeases(cursor_bucket, settings.lease_seconds),
        deletions=deleted,
        options=settings.run_options,
    )

    async def subscription_bucket() -> KeyValue:
        return await ensure_subscription_bucket(broker.config.connection_state.stream, names)

    managed = SubscriptionDeps(
        credentials=deps.credentials,
        tokens=tokens,
        graph=HttpxSubscriptionConnector(http, settings.retry_policy),
        store=KvSubscriptionStore(subscription_bucket),
        deletions=deleted,
    )
    entry = SyncerDeps(
        deps, settings.redelivery, deleted, lambda: broker.connection is not None, managed
    )
    commands.attach(
        broker,
        names,
        lambda: entry,
        retry_delay=settings.nak_delay,
        fetch_timeout=settings.fetch_timeout,
        ack_wait=settings.ack_wait,
        keepalive=settings.keepalive,
    )
    subscriptions.attach(
        broker,
        names,
        lambda: entry,
        retry_delay=settings.nak_delay,
        fetch_timeout=settings.fetch_timeout,
    )
    tenant_deleted.attach(broker, names, lambda: entry)
    api.attach(broker, names, lambda: entry)

    async def declare() -> None:
        # Streams and the bucket must exist before the pull consumer is created.
        await broker.connect()
        js = broker.config.connection_state.stream
        await ensure_streams(js, names)
        await ensure_cursor_bucket(js, names)
        await ensure_subscription_bucket(js, names)
        await subscriptions.update_existing(js, names)

    async def ready() -> None:
        await subscriptions_in_place(broker.connection)  # before we say "ready"
        tune_process(settings)
        log.info(
            "syncer ready: consumer %s on %s (stream %s); egress: %s",
            names.consumer("syncer", "commands"),
            names.sync_commands,
            names.commands_stream,
            proxies.summary(),
        )

    async def close() -> None:
        tokens.close()
        await http.aclose()

    health = HealthHooks(settings.health_port, {"nats": nats_connected(lambda: broker.connection)})
    return FastStream(
        broker,
        on_startup=[declare],
        after_startup=[ready, health.start],
        on_shutdown=[health.stop],
        after_shutdown=[close],
    )


def run() -> None:
    """Console entry point `entrasync-syncer`."""
    # httpx logs every request line at INFO, and delta URLs carry opaque state tokens.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    run_service("syncer", Settings, build_app)
