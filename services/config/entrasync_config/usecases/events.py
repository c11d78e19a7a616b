"""Publishing committed changes: the stores keep events in an outbox, `announce` sends them."""

from __future__ import annotations

import logging

from entrasync_config.ports import Deps

log = logging.getLogger("entrasync.config")


async def announce(deps: Deps) -> None:
    """Publish pending events now; on failure the change stands and the relay retries later."""
    try:
        await deps.events.flush()
    except Exception as err:  # the change is committed: never turn it into an error reply
        log.warning("config events not published yet, the relay will retry: %s", err)
