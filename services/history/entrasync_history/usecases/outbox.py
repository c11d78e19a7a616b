"""The outbox's safety net: events committed by a process that died before publishing them.

A tenant's next commit or the redelivery of the message publishes them too; this loop covers a
tenant that has no more traffic (and a process that restarts).
"""

from __future__ import annotations

import asyncio
import logging

from entrasync_history.usecases import pipeline as services

log = logging.getLogger(__name__)


async def publish_outboxes_forever(ctx: services.Context, every: float) -> None:
    """At once, then every `every` seconds, publish what is left in the outbox (a failed pass
    is retried at the next one)."""
    while True:
        try:
            published = await services.publish_outboxes(ctx)
        except Exception as error:
            log.warning("publishing the outbox failed, retrying later: %r", error)
        else:
            if published:
                log.warning("published %d events left in the outbox", published)
        await asyncio.sleep(every)
