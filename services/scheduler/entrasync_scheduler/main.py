"""Composition root of the scheduler service and its `entrasync-scheduler` entrypoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from entrasync_shared.health import HealthHooks, nats_connected
from entrasync_shared.kit.service import run_service
from entrasync_shared.kit.tracing import nats_middlewares
from entrasync_shared.natsutil import ensure_streams, subscriptions_in_place
from faststream import FastStream
from faststream.nats import NatsBroker

from entrasync_scheduler.adapters.clock import SystemClock
from entrasync_scheduler.adapters.metrics import PrometheusScheduleMetrics, sample_census
from entrasync_scheduler.adapters.nats import NatsCommands, NatsConfigApi
from entrasync_scheduler.adapters.subscriptions import watch_subscriptions
from entrasync_scheduler.entrypoints.api import api
from entrasync_scheduler.entrypoints.events import CONSUMERS, notifications
from entrasync_scheduler.ports import Clock
from entrasync_scheduler.settings import SchedulerSettings
from entrasync_scheduler.usecases.scheduler import Scheduler

log = logging.getLogger("entrasync.scheduler")


def build_app(settings: SchedulerSettings, *, clock: Clock | None = None) -> FastStream:
    """The scheduler app; tests pass their own `clock` to move time on."""
    names = settings.names
    broker = NatsBroker(
        settings.nats_url,
        name="entrasync-scheduler",
        logger=logging.getLogger("entrasync.scheduler.broker"),  # our format, JSON included
        inbox_prefix=settings.inbox_prefix,
        middlewares=nats_middlewares(),
    )
    scheduler = Scheduler(
        source=NatsConfigApi(broker, names, settings.config_timeout_seconds),
        sink=NatsCommands(broker, names),
        clock=clock or SystemClock(),
        settings=settings,
        metrics=PrometheusScheduleMetrics(),
    )
    sample_census(scheduler.census)
    for consumer in CONSUMERS:
        consumer.attach(broker, names, lambda: scheduler)
    notifications.attach(broker, names, lambda: scheduler, fetch_timeout=1.0)
    api.attach(broker, names, lambda: scheduler)
    loop: list[asyncio.Task[None]] = []

    async def start() -> None:
        await broker.connect()
        await ensure_streams(broker.connection.jetstream(), names)

    async def launch() -> None:
        await subscriptions_in_place(broker.connection)  # its API answers once it says started
        log.info("entrasync-scheduler started (prefix=%r); asking config", settings.prefix)
        loop.append(asyncio.create_task(scheduler.run_forever(), name="entrasync-scheduler"))
        watch = watch_subscriptions(broker.connection.jetstream, names, scheduler)
        loop.append(asyncio.create_task(watch, name="entrasync-scheduler-subscriptions"))

    async def stop() -> None:
        for task in loop:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    health = HealthHooks(settings.health_port, {"nats": nats_connected(lambda: broker.connection)})
    return FastStream(
        broker,
        on_startup=[start],
        after_startup=[launch, health.start],
        on_shutdown=[health.stop, stop],
    )


def run() -> None:
    run_service("scheduler", SchedulerSettings, build_app)
