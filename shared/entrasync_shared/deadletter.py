"""Parking messages a service cannot read: invariant 6, "never silently dropped".

Every service parks an unreadable message on `names.dead_letter(<service>)` (stream
ENTRASYNC_DEADLETTER) with the raw payload and two headers saying where it came from and why.
"""

from __future__ import annotations

import logging
from typing import Final

from faststream.nats import NatsBroker

from entrasync_shared.subjects import Names

SUBJECT_HEADER: Final = "Entrasync-Subject"
REASON_HEADER: Final = "Entrasync-Reason"

log = logging.getLogger("entrasync.deadletter")


class DeadLetters:
    """Publishes unreadable messages to one service's dead-letter subject and waits for the ack.

    `msg_id` should be stable for the original message (e.g. stream + sequence) so that a
    redelivered copy — or the copies of several replicas — is parked only once.
    """

    def __init__(
        self, broker: NatsBroker, names: Names, service: str, *, timeout: float = 5.0
    ) -> None:
        self._broker = broker
        self._names = names
        self._subject = names.dead_letter(service)
        self._timeout = timeout

    async def park(self, payload: bytes, subject: str, reason: str, msg_id: str) -> None:
        """Store `payload` with its origin and `reason`; raises what the broker raises."""
        reason = reason[:1000].replace("\n", " ")
        log.warning("dead-lettering a message from %s: %s", subject, reason)
        await self._broker.publish(
            payload,
            self._subject,
            headers={"Nats-Msg-Id": msg_id, SUBJECT_HEADER: subject, REASON_HEADER: reason},
            stream=self._names.dead_letter_stream,
            timeout=self._timeout,
        )
