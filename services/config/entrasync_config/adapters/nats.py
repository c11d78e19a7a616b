"""Config's JetStream publishing: tenant events and dead letters."""

from __future__ import annotations

import logging

from entrasync_shared.messages import Message, TenantCreated, TenantUpdated
from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker
from nats.errors import Error as NatsError

from entrasync_config.domain import Unavailable

log = logging.getLogger("entrasync.config")

PUBLISH_TIMEOUT = 5.0


class NatsConfigEvents:
    """Implements `ConfigEvents` on the config stream; `Nats-Msg-Id` is the event id."""

    def __init__(self, broker: NatsBroker, names: Names) -> None:
        self._broker = broker
        self._names = names

    async def tenant_created(self, event: TenantCreated) -> None:
        await self._publish(event, self._names.tenant_event("created"))

    async def tenant_updated(self, event: TenantUpdated) -> None:
        await self._publish(event, self._names.tenant_event("updated"))

    async def _publish(self, event: Message, subject: str) -> None:
        try:
            await self._broker.publish(
                event,
                subject,
                headers={"Nats-Msg-Id": event.id},
                stream=self._names.config_stream,
                timeout=PUBLISH_TIMEOUT,
            )
        except (NatsError, TimeoutError) as err:
            raise Unavailable(f"could not publish {subject}: {err!r}") from err
