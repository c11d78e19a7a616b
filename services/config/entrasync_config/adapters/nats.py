"""Config's JetStream publishing: the outbox relay for tenant and profile events."""

from __future__ import annotations

import asyncio
import json
import logging

from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker
from nats.errors import Error as NatsError

from entrasync_config.adapters.mongo import MongoOutbox
from entrasync_config.domain import Unavailable

log = logging.getLogger("entrasync.config")

PUBLISH_TIMEOUT = 5.0


def event_subjects(names: Names) -> dict[str, str]:
    """Where each event type goes (stream ENTRASYNC_CONFIG)."""
    return {
        "TenantCreated": names.tenant_event("created"),
        "TenantUpdated": names.tenant_event("updated"),
        "TenantDeleted": names.tenant_event("deleted"),
        "ProfileCreated": names.profile_event("created"),
        "ProfileUpdated": names.profile_event("updated"),
        "ProfileDeleted": names.profile_event("deleted"),
    }


class NatsOutboxRelay:
    """Implements `EventOutbox`: publishes committed events in commit order, then marks them.

    `Nats-Msg-Id` is the event id, so a retry (or two replicas relaying the same entry) is
    deduplicated by JetStream.
    """

    def __init__(self, broker: NatsBroker, names: Names, outbox: MongoOutbox) -> None:
        self._broker = broker
        self._names = names
        self._outbox = outbox
        self._subjects = event_subjects(names)
        self._lock = asyncio.Lock()

    async def flush(self) -> int:
        async with self._lock:
            published = 0
            for entry in await self._outbox.pending():
                subject = self._subjects[entry.type]
                try:
                    await self._broker.publish(
                        json.loads(entry.payload),
                        subject,
                        headers={"Nats-Msg-Id": entry.event_id},
                        stream=self._names.config_stream,
                        timeout=PUBLISH_TIMEOUT,
                    )
                except (NatsError, TimeoutError) as err:
                    raise Unavailable(f"could not publish {subject}: {err!r}") from err
                await self._outbox.mark_published(entry.event_id)
                published += 1
            return published

    async def relay_forever(self, interval: float) -> None:
        """Retry what could not be published at once (NATS down, a crash after commit)."""
        while True:
            await asyncio.sleep(interval)
            try:
                if count := await self.flush():
                    log.info("published %d config event(s) that were pending", count)
            except Exception as err:
                log.warning("config events still pending: %s", err)
