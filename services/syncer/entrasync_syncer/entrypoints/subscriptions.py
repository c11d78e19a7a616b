"""The syncer's subscription work: a durable pull consumer of `ManageSubscriptions` commands.

One command at a time across every replica (`max_ack_pending=1`): two replicas ensuring one
tenant at once could each create its subscription. NATS failures are retried later; Graph's
refusals are recorded on the records by the use case and the command is acknowledged.
"""

from __future__ import annotations

import logging

from entrasync_shared import catalog
from entrasync_shared.kit.consumers import Delivery, DurableConsumer, Later, Outcome
from entrasync_shared.messages import ManageSubscriptions

from entrasync_syncer.entrypoints.deps import SyncerDeps
from entrasync_syncer.ports import InfrastructureError
from entrasync_syncer.usecases.subscriptions import manage_subscriptions

log = logging.getLogger("entrasync.syncer")

subscriptions = DurableConsumer[SyncerDeps](
    catalog.durable("syncer", "subscriptions"), max_ack_pending=1
)


@subscriptions.handles
async def on_manage_subscriptions(
    command: ManageSubscriptions, deps: SyncerDeps, delivery: Delivery
) -> Outcome:
    if deps.subscriptions is None:
        raise RuntimeError("this syncer was built without its subscription dependencies")
    log.info("subscriptions of tenant %s: %s", command.tenant_id, command.action)
    try:
        await manage_subscriptions(command, deps.subscriptions)
    except InfrastructureError as exc:
        delay = deps.redelivery.delay(delivery.deliveries)
        log.warning("subscriptions of %s: %s; retry in %.0f s", command.tenant_id, exc, delay)
        return Later(delay)
    return None
