"""`JetStreamEventPublisher`: public events and dead letters through the FastStream broker.

Each publish waits for the stream's PubAck, so an event is stored before the state it describes
is written; the `Nats-Msg-Id` header makes a republished event a no-op inside the stream's
duplicate window.
"""

from __future__ import annotations

from collections.abc import Sequence

from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker

from entrasync_history.domain.events import OutgoingEvent

REASON_HEADER = "Entrasync-Dead-Letter-Reason"
SUBJECT_HEADER = "Entrasync-Original-Subject"


class JetStreamEventPublisher:
    def __init__(self, broker: NatsBroker, names: Names) -> None:
        self._broker = broker
        self._names = names

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        for event in events:
            await self._broker.publish(
                event.envelope,
                event.subject,
                headers={"Nats-Msg-Id": event.msg_id},
                stream=self._names.events_stream,
            )
