"""`JetStreamEventPublisher`: public events onto JetStream, pipelined.

A call returns once the stream has acknowledged every event it was given, so events are stored
before the state they describe is written; they go out in order without waiting between them
(a batch's hundreds of events cost one round trip, not hundreds). The `Nats-Msg-Id` header makes
a republished event a no-op inside the stream's duplicate window.
"""

from __future__ import annotations

from collections.abc import Sequence

from entrasync_shared.natsutil import OrderedPublisher, Outgoing
from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker

from entrasync_history.adapters import metrics
from entrasync_history.domain.events import OutgoingEvent


class JetStreamEventPublisher:
    def __init__(self, broker: NatsBroker, names: Names, *, timeout: float = 10.0) -> None:
        self._broker = broker
        self._names = names
        self._timeout = timeout
        self._ordered: OrderedPublisher | None = None

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        if self._ordered is None:  # the connection exists once the broker has started
            self._ordered = OrderedPublisher(self._broker.connection, timeout=self._timeout)
        await self._ordered.publish(
            [Outgoing(event.subject, event.body, event.msg_id) for event in events],
            stream=self._names.events_stream,
        )
        metrics.events_published(self._names, events)
