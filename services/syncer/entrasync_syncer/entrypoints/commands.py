"""The syncer's work: a durable pull consumer of sync commands, and its ack decisions.

The kit parses the command (parking what is not a `StartSync`), keeps a long run's command
in progress (`keepalive`), and acks, naks, parks or terminates as this handler decides: the
syncer counts deliveries itself, because a command it gives up on must first end its run in
Sync History (`give_up` publishes a failed `SyncFinished`).
"""

from __future__ import annotations

import logging

from entrasync_shared import catalog
from entrasync_shared.deadletter import after_failure
from entrasync_shared.kit.consumers import (
    Delivery,
    DurableConsumer,
    Later,
    Outcome,
    Park,
    Terminate,
)
from entrasync_shared.messages import StartSync

from entrasync_syncer.entrypoints.deps import SyncerDeps
from entrasync_syncer.ports import InfrastructureError, LeaseHeld, RunAlreadyDone
from entrasync_syncer.usecases.command import run_command
from entrasync_syncer.usecases.sync import give_up

log = logging.getLogger("entrasync.syncer")

commands = DurableConsumer[SyncerDeps](catalog.durable("syncer", "commands"))


@commands.handles
async def on_start_sync(command: StartSync, deps: SyncerDeps, delivery: Delivery) -> Outcome:
    attempt, policy = delivery.deliveries, deps.redelivery
    log.info(
        "run %s of tenant %s: %s (%s), attempt %d",
        command.run_id,
        command.tenant_id,
        command.mode,
        command.reason,
        attempt,
    )
    try:
        await run_command(command, deps.run, attempt)
    except RunAlreadyDone as exc:
        log.info("run %s: %s; acknowledging the repeated command", command.run_id, exc)
        return None
    except (LeaseHeld, InfrastructureError) as exc:
        if attempt >= policy.max_deliver:
            log.error("run %s abandoned after %d attempts: %s", command.run_id, attempt, exc)
            await give_up(command, deps.run, f"abandoned after {attempt} attempts: {exc}", attempt)
            return Terminate()
        delay = policy.delay(attempt)
        log.warning("run %s: %s; retry in %.0f s", command.run_id, exc, delay)
        return Later(delay)
    except Exception as exc:
        # A bug or an unforeseen failure: a few more deliveries may try, then the command is
        # parked and its run recorded as failed.
        limit = policy.failure_limit
        if attempt < policy.max_deliver and after_failure(exc, attempt, limit) == "retry":
            log.warning("run %s failed unexpectedly, retrying: %r", command.run_id, exc)
            return Later(policy.delay(attempt))
        log.error("run %s failed %d times", command.run_id, attempt, exc_info=exc)
        cause = _single(exc)
        why = f"failed {attempt} times: {type(cause).__name__}"
        await give_up(command, deps.run, why, attempt)
        return Park(f"{why}: {cause}")
    return None


def _single(error: BaseException) -> BaseException:
    """The one error inside a task group's group (the types run in one), to name it."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
