"""History's loops beside its consumers: the sweep of purged tenants and the held finishes
(the outbox's loop is `usecases.outbox`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from entrasync_history.entrypoints.deps import Deps
from entrasync_history.usecases import deletions, finishes

log = logging.getLogger(__name__)


async def sweep_purged_forever(deps: Deps, every: float) -> None:
    """Every `every` seconds, erase what a purged tenant still has (a failed sweep is retried
    at the next one)."""
    while True:
        await asyncio.sleep(every)
        try:
            found = await deletions.sweep_purged(deps.ctx)
        except Exception as error:
            log.warning("sweep of purged tenants failed, retrying later: %r", error)
            continue
        deps.stats.swept += sum(found.values())


async def retry_held_finishes_forever(deps: Deps, every: float) -> None:
    """Every `every` seconds, count one more wait for each held finish and try it again: after
    `finish_max_waits` its missing types are recorded Failed (a failed pass is retried at the
    next one)."""
    while True:
        await asyncio.sleep(every)
        try:
            for tenant_id in await finishes.held_tenants(deps.ctx):
                async with deps.locks.hold(tenant_id):
                    held = await finishes.retry_held(
                        deps.ctx, datetime.now(UTC), tenant_id=tenant_id, waited=True
                    )
                deps.stats.recorded += len(held)
        except Exception as error:
            log.warning("retrying held finishes failed, retrying later: %r", error)
            continue
