"""Composition root of the scheduler service and its `entrasync-scheduler` entrypoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from entrasync_shared.health import HealthHooks, nats_connected
from entrasync_shared.logs import configure_logging
from entrasync_shared.natsutil import ensure_streams, subscriptions_in_place
from faststream import FastStream
from faststream.nats import NatsBroker
from pydantic import ValidationError

from entrasync_scheduler import handlers
from entrasync_scheduler.adapters.nats import NatsCommands, NatsConfigApi
from entrasync_scheduler.service import Clock, Scheduler, SystemClock
from entrasync_scheduler.settings import SchedulerSettings

log = logging.getLogger("entrasync.scheduler")


def build_app(settings: SchedulerSettings, *, clock: Clock | None = None) -> FastStream:
    """The scheduler app; tests pass their own `clock` to move time on."""
    names = settings.names
    broker = NatsBroker(
        settings.nats_url, name="entrasync-scheduler", inbox_prefix=settings.inbox_prefix
    )
    scheduler = Scheduler(
        source=NatsConfigApi(broker, names, settings.config_timeout_seconds),
        sink=NatsCommands(broker, names),
        clock=clock or SystemClock(),
        settings=settings,
    )
    handlers.register(broker, names, scheduler)
    loop: list[asyncio.Task[None]] = []

    async def start() -> None:
        await broker.connect()
        await ensure_streams(broker.connection.jetstream(), names)

    async def launch() -> None:
        await subscriptions_in_place(broker.connection)  # its API answers once it says started
        log.info("entrasync-scheduler started (prefix=%r); asking config", settings.prefix)
        loop.append(asyncio.create_task(scheduler.run_forever(), name="entrasync-scheduler"))

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
    configure_logging(logging.INFO)
    try:
        settings = SchedulerSettings()
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in err.errors(include_url=False, include_input=False)
        )
        log.error("entrasync-scheduler cannot start: %s", problems)
        raise SystemExit(2) from None
    logging.getLogger().setLevel(settings.log_level.upper())
    asyncio.run(build_app(settings).run())
