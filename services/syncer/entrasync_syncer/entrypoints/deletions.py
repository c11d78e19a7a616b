"""How a running syncer learns that config deleted a tenant: config's `tenant.deleted` events.

Each replica reads them with its own ordered consumer from the start of the config stream (which
keeps them without age limit), so a replica knows every deletion announced before it started and
hears of new ones within milliseconds; an ordered consumer recreates itself after a reconnect.
A run checks the set before each Graph page and before each batch (`usecases.rounds.TypeRun`).

Why events and not a KV tombstone: config already publishes them (from its transactional outbox,
before it answers the delete), no new bucket, writer or permission is needed beyond an ordered
consumer, and the syncer's check stays an in-memory lookup instead of a NATS round trip per page.
Whatever a syncer still publishes in the instant before the event arrives is dropped by history,
which records the deletion from the same events through a durable consumer.
"""

from __future__ import annotations

import logging

from entrasync_shared.kit.consumers import OrderedConsumer
from entrasync_shared.messages import TenantDeleted
from faststream.nats import DeliverPolicy

from entrasync_syncer.entrypoints.deps import SyncerDeps

log = logging.getLogger("entrasync.syncer")

tenant_deleted = OrderedConsumer[SyncerDeps](
    "syncer",
    "tenant_deleted",
    ("tenantDeleted",),
    deliver_policy=DeliverPolicy.ALL,  # every deletion, past and future
    parks=False,  # history's durable consumer of the same subject parks an unreadable one
)


@tenant_deleted.handles
async def on_tenant_deleted(event: TenantDeleted, deps: SyncerDeps) -> None:
    if not deps.deletions.deleted(event.tenant_id):
        log.info("tenant %s deleted: its runs stop", event.tenant_id)
    deps.deletions.add(event.tenant_id)
