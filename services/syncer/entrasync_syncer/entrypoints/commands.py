"""The syncer's entrypoint: a durable pull consumer of sync commands; its ack decisions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from entrasync_shared.deadletter import after_failure
from entrasync_shared.messages import Health, Reply, StartSync
from entrasync_shared.natsutil import ok
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, DeliverPolicy, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from pydantic import ValidationError

from entrasync_syncer.ports import DeadLetters, InfrastructureError, LeaseHeld, RunAlreadyDone
from entrasync_syncer.settings import Settings
from entrasync_syncer.sync import Deps, give_up, run_command

log = logging.getLogger("entrasync.syncer")


def register(broker: NatsBroker, settings: Settings, deps: Deps, dead_letters: DeadLetters) -> None:
    """Subscribe `on_start_sync` to the command work queue, and `on_health` to the health API."""
    names = settings.names

    @broker.subscriber(names.api("syncer", "health"), queue="entrasync-syncer")
    async def on_health() -> Reply[Any]:
        return ok(Health(service="syncer", ok=broker.connection is not None))

    async def park(msg: NatsMessage, reason: str) -> None:
        """Dead-letter the command and ack it; nak instead when parking fails (NATS down)."""
        metadata = msg.raw_message.metadata
        log.error("parking command #%s: %s", metadata.sequence.stream, reason)
        msg_id = f"syncer:{metadata.stream}:{metadata.sequence.stream}"
        try:
            await dead_letters.park(msg.body, msg.raw_message.subject, reason, msg_id)
        except InfrastructureError as park_failure:
            log.warning("could not park it: %s", park_failure)
            await msg.nack(delay=_redelivery_delay(settings, metadata.num_delivered or 1))
            return
        await msg.ack()

    @broker.subscriber(
        names.sync_commands,
        stream=JStream(names.commands_stream, declare=False),
        durable=names.consumer("syncer", "commands"),
        deliver_policy=DeliverPolicy.ALL,
        pull_sub=PullSub(batch_size=1, timeout=settings.fetch_timeout),
        inbox_prefix=names.pull_inbox,
        ack_policy=AckPolicy.MANUAL,
        config=ConsumerConfig(ack_wait=settings.ack_wait, max_deliver=settings.max_deliver),
        title="syncer/commands",
        description="StartSync commands: read one tenant's Graph delta now.",
    )
    async def on_start_sync(msg: NatsMessage) -> None:
        metadata = msg.raw_message.metadata
        attempt = metadata.num_delivered or 1
        try:
            command = StartSync.model_validate_json(msg.body)
        except ValidationError as exc:
            await park(msg, f"not a StartSync: {exc.error_count()} validation errors")
            return
        log.info(
            "run %s of tenant %s: %s (%s), attempt %d",
            command.run_id,
            command.tenant_id,
            command.mode,
            command.reason,
            attempt,
        )
        try:
            async with _kept_alive(msg, settings.keepalive):
                await run_command(command, deps, attempt)
        except RunAlreadyDone as exc:
            log.info("run %s: %s; acknowledging the repeated command", command.run_id, exc)
            await msg.ack()
            return
        except (LeaseHeld, InfrastructureError) as exc:
            if attempt >= settings.max_deliver:
                log.error("run %s abandoned after %d attempts: %s", command.run_id, attempt, exc)
                await give_up(command, deps, f"abandoned after {attempt} attempts: {exc}", attempt)
                await msg.reject()
                return
            delay = _redelivery_delay(settings, attempt)
            log.warning("run %s: %s; retry in %.0f s", command.run_id, exc, delay)
            await msg.nack(delay=delay)
            return
        except Exception as exc:
            # A bug or an unforeseen failure: a few more deliveries may try, then the command is
            # parked and its run recorded as failed (the server's max_deliver would drop it
            # without a word).
            limit = min(settings.max_failed_deliveries, settings.max_deliver)
            if attempt < settings.max_deliver and after_failure(exc, attempt, limit) == "retry":
                log.warning("run %s failed unexpectedly, retrying: %r", command.run_id, exc)
                await msg.nack(delay=_redelivery_delay(settings, attempt))
                return
            log.error("run %s failed %d times", command.run_id, attempt, exc_info=exc)
            cause = _single(exc)
            why = f"failed {attempt} times: {type(cause).__name__}"
            await give_up(command, deps, why, attempt)
            await park(msg, f"{why}: {cause}")
            return
        await msg.ack()


def _single(error: BaseException) -> BaseException:
    """The one error inside a task group's group (the types run in one), to name it."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def _redelivery_delay(settings: Settings, attempt: int) -> float:
    return float(min(settings.nak_delay * 2 ** (attempt - 1), settings.nak_delay_cap))


@contextlib.asynccontextmanager
async def _kept_alive(msg: NatsMessage, every: float) -> AsyncIterator[None]:
    """Tell JetStream the command is still being worked on, so a long run keeps it."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await msg.in_progress()
            except Exception as exc:  # a missed beat only risks a redelivery
                log.warning("in-progress signal failed: %r", exc)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
