"""`ChangeNotified` onto JetStream, each confirmed by its PubAck."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import nats.errors
from entrasync_shared.messages import ChangeNotified
from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker

from entrasync_receiver.ports import Unavailable


class JetStreamNotifier:
    """Implements `Notifier`: all messages of a POST go out at once and the lot must be
    confirmed within `timeout` (Graph wants its answer within 3 seconds; a retry of the same
    POST publishes the same ids, which the stream's duplicate window drops)."""

    def __init__(self, broker: NatsBroker, names: Names, *, timeout: float = 2.0) -> None:
        self._broker, self._names, self._timeout = broker, names, timeout

    async def publish(self, messages: Iterable[ChangeNotified]) -> None:
        outgoing = list(messages)
        if not outgoing:
            return
        if self._broker.connection is None or not self._broker.connection.is_connected:
            raise Unavailable("not connected to NATS")
        try:
            await asyncio.wait_for(
                asyncio.gather(*(self._one(message) for message in outgoing)), self._timeout
            )
        except (nats.errors.Error, TimeoutError, OSError) as err:
            raise Unavailable(f"publishing {len(outgoing)} notification(s): {err!r}") from err

    async def _one(self, message: ChangeNotified) -> None:
        await self._broker.publish(
            message,
            self._names.notification(message.tenant_id, message.object_type),
            headers={"Nats-Msg-Id": message.id},
            stream=self._names.notify_stream,
            timeout=self._timeout,
        )
