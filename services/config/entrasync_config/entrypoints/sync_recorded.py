"""Config's `sync.recorded` consumer: a recorded run may clear its tenant's full-scan flag and
tell which directory the tenant is."""

from __future__ import annotations

import logging

from entrasync_shared import catalog
from entrasync_shared.kit.consumers import Delivery, DurableConsumer
from entrasync_shared.messages import SyncRecordedEvent
from faststream.nats import DeliverPolicy

from entrasync_config import usecases
from entrasync_config.ports import Deps

log = logging.getLogger("entrasync.config")

sync_recorded = DurableConsumer[Deps](
    catalog.durable("config", "sync-recorded"),
    # As ever: a new durable starts with the runs recorded from then on.
    deliver_policy=DeliverPolicy.NEW,
    ack_wait=30.0,
)


@sync_recorded.handles
async def on_sync_recorded(message: SyncRecordedEvent, deps: Deps, delivery: Delivery) -> None:
    recorded = message.data
    tenant = await usecases.record_sync(recorded, deps)
    if tenant is not None:
        log.info("full scan done for tenant %s (run %s)", tenant.id, recorded.run_id)
