"""A finish whose batches are not all applied yet is held in the store, not nakked.

The pipeline durable delivers one unacked message at a time (`max_ack_pending=1`), and a nak
with a delay keeps that slot: a finish nakked while its batches wait behind it in the stream
would hold them back until it gave up. So the finish is acked and held (with how often it
waited); each batch the tenant commits tries its held finishes again, and a loop every
`finish_wait` seconds counts one more wait, so after `finish_max_waits` the missing types are
recorded Failed, as before.
"""

from __future__ import annotations

import logging
from datetime import datetime

from entrasync_shared.messages import SyncFinished, SyncRecorded

from entrasync_history.usecases import deletions
from entrasync_history.usecases.pipeline import Context, record_finished

log = logging.getLogger(__name__)


async def finish_or_hold(
    ctx: Context, finished: SyncFinished, deliveries: int, now: datetime
) -> SyncRecorded | None:
    """Record the finish, or hold it until its batches are applied (None)."""
    recorded = await record_finished(ctx, finished, deliveries, now)
    if recorded is None:
        log.info("run %s: holding its finish until its batches are applied", finished.run_id)
        await ctx.store.hold_finish(finished, deliveries)
    return recorded


async def held_tenants(ctx: Context) -> list[str]:
    """The tenants with a held finish."""
    return sorted({finished.tenant_id for finished, _ in await ctx.store.held_finishes()})


async def retry_held(
    ctx: Context, now: datetime, *, tenant_id: str | None = None, waited: bool = False
) -> list[SyncRecorded]:
    """Try the held finishes (of `tenant_id`, else all) again; `waited` counts one more wait
    for each. A held finish of a deleted tenant is dropped, as its message would be."""
    done: list[SyncRecorded] = []
    for finished, waits in await ctx.store.held_finishes(tenant_id):
        if await deletions.is_buried(ctx, finished.tenant_id):
            await ctx.store.release_finish(finished.run_id)
            continue
        waits += waited
        recorded = await record_finished(ctx, finished, waits, now)
        if recorded is None:
            if waited:
                await ctx.store.hold_finish(finished, waits)
            continue
        await ctx.store.release_finish(finished.run_id)
        done.append(recorded)
    return done
