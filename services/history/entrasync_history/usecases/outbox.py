"""The outbox's safety net: events committed by a process that died before publishing them.

A tenant's next commit or the redelivery of the message publishes them too; this loop covers a
tenant that has no more traffic (and a process that restarts).
"""

from __future__ import annotations

import asyncio
import logging

from entrasync_history.usecases import pipeline as services

log = logging.getLogger(__name__)


async def publish_outboxes_forever(
    ctx: services.Context, every: float, locks: services.TenantLocks
) -> None:
    """At once, then every `every` seconds, publish what is left in the outbox (a failed pass
    is retried at the next one). Each tenant under its lock: what a batch being applied here
    commits, it publishes itself."""
    while True:
        try:
            published = 0
            for tenant_id in await ctx.store.outbox_tenants():
                async with locks.hold(tenant_id):
                    published += await services.publish_outbox(ctx, tenant_id)
        except Exception as error:
            log.warning("publishing the outbox failed, retrying later: %r", error)
        else:
            if published:
                # Another replica may have been publishing them at the same time (harmless:
                # the stream drops copies); after a crash, these are what it left.
                log.info("published %d events left in the outbox", published)
        await asyncio.sleep(every)
