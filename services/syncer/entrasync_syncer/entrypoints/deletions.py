"""How a running syncer learns that config deleted a tenant: config's `tenant.deleted` events.

Each replica reads them with its own ordered consumer from the start of the config stream (which
keeps them without age limit), so a replica knows every deletion announced before it started and
hears of new ones within milliseconds; an ordered consumer recreates itself after a reconnect.
A run checks the set before each Graph page and before each batch (`rounds.TypeRun`).

Why events and not a KV tombstone: config already publishes them (from its transactional outbox,
before it answers the delete), no new bucket, writer or permission is needed beyond an ordered
consumer, and the syncer's check stays an in-memory lookup instead of a NATS round trip per page.
Whatever a syncer still publishes in the instant before the event arrives is dropped by history,
which records the deletion from the same events through a durable consumer.
"""

from __future__ import annotations

import logging

from entrasync_shared.messages import TenantDeleted
from entrasync_shared.subjects import Names
from faststream.nats import DeliverPolicy, JStream, NatsBroker
from faststream.nats.annotations import NatsMessage
from pydantic import ValidationError

log = logging.getLogger("entrasync.syncer")


class DeletedTenants:
    """The tenant ids config announced as deleted (a few short strings per deletion ever)."""

    def __init__(self) -> None:
        self._ids: set[str] = set()

    def deleted(self, tenant_id: str) -> bool:
        return tenant_id in self._ids

    def add(self, tenant_id: str) -> None:
        self._ids.add(tenant_id)


def register_deletions(broker: NatsBroker, names: Names, deleted: DeletedTenants) -> None:
    """Subscribe `on_tenant_deleted`: every `tenant.deleted` event, past and future."""

    @broker.subscriber(
        names.tenant_event("deleted"),
        stream=JStream(names.config_stream, declare=False),
        deliver_policy=DeliverPolicy.ALL,
        ordered_consumer=True,
        title="syncer/tenant-deleted",
        description="config's tenant.deleted: runs of a deleted tenant stop at the next page.",
    )
    async def on_tenant_deleted(msg: NatsMessage) -> None:
        try:
            event = TenantDeleted.model_validate_json(msg.body)
        except ValidationError as exc:
            # history's durable consumer of the same subject parks it; this view only reads.
            log.warning("ignoring an unreadable tenant.deleted event: %s", exc.errors()[0]["msg"])
            return
        if not deleted.deleted(event.tenant_id):
            log.info("tenant %s deleted: its runs stop", event.tenant_id)
        deleted.add(event.tenant_id)
