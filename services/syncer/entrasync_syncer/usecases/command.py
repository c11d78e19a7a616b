"""A sync command's run under its tenant's lease: one run per tenant at a time, across every
syncer replica, and never the same run twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from entrasync_shared.kit import tracing
from entrasync_shared.messages import StartSync, SyncFinished

from entrasync_syncer.ports import InfrastructureError, Lease, LeaseHeld
from entrasync_syncer.usecases.sync import Deps, sync_tenant

log = logging.getLogger("entrasync.syncer")


async def run_command(command: StartSync, deps: Deps, attempt: int = 1) -> SyncFinished:
    """Take the tenant's lease (waiting up to `lease_wait`), run `command`, hand it back.

    Raises LeaseHeld when another run keeps the tenant, RunAlreadyDone for a command whose run
    already finished, InfrastructureError when NATS fails or the lease was lost.
    """
    with tracing.span("sync run", _run_attributes(command, attempt)) as span:
        lease = await _acquire(command, deps)
        holder = _Holder(lease)
        work = asyncio.create_task(sync_tenant(command, deps, attempt))
        renewing = asyncio.create_task(holder.keep(deps))
        done = False
        try:
            await asyncio.wait({work, renewing}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                await _cancel(work)
                renewing.result()  # raises why the lease was lost
            finished = work.result()
            done = True
            span.set_attribute("entrasync.run.status", finished.status)
            return finished
        finally:
            await _cancel(work)
            await _cancel(renewing)
            with contextlib.suppress(InfrastructureError):
                await deps.leases.release(holder.lease, done=done)


def _run_attributes(command: StartSync, attempt: int) -> dict[str, str | int]:
    return {
        "entrasync.tenant_id": command.tenant_id,
        "entrasync.run_id": command.run_id,
        "entrasync.run.mode": command.mode,
        "entrasync.run.reason": command.reason,
        "entrasync.run.attempt": attempt,
    }


async def _cancel(task: asyncio.Task[Any]) -> None:
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _acquire(command: StartSync, deps: Deps) -> Lease:
    deadline = time.monotonic() + deps.options.lease_wait
    while True:
        try:
            return await deps.leases.acquire(command.tenant_id, command.run_id)
        except LeaseHeld as held:
            if time.monotonic() >= deadline:
                raise
            log.info("run %s waits: %s", command.run_id, held)
            await asyncio.sleep(deps.options.lease_poll)


class _Holder:
    """The lease of a running run, renewed until the run ends or the lease is lost."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease

    async def keep(self, deps: Deps) -> None:
        while True:
            await asyncio.sleep(deps.options.lease_renew)
            try:
                self.lease = await deps.leases.renew(self.lease)
            except InfrastructureError as exc:
                log.error("run %s: %s; stopping it", self.lease.run_id, exc)
                raise
