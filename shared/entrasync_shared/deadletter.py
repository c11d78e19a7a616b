"""Parking messages a service cannot handle: invariant 6, "never silently dropped".

Every service parks an unreadable message on `names.dead_letter(<service>)` (stream
ENTRASYNC_DEADLETTER) with the raw payload and two headers saying where it came from and why.

The same place decides what a durable consumer does when handling a message raised
(`settle_failure`): an outage that ends by itself (NATS unreachable, a timeout, or what the
service names as one: its database unreachable) is retried without limit, anything else at most
`limit` deliveries, after which the message is parked with its error as the reason. JetStream's
own `max_deliver` is no substitute: when it runs out the server stops delivering the message and
nobody is told.

This module knows no database: a service with one passes its outages in (`also`), e.g. the
MongoDB services' `MONGO_OUTAGES`, so that a service without one (the syncer) carries no driver.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Final, Literal, Protocol

import nats.errors
import nats.js.errors
from faststream.nats import NatsBroker, NatsMessage

from entrasync_shared.kit import metrics
from entrasync_shared.subjects import Names

SUBJECT_HEADER: Final = "Entrasync-Subject"
REASON_HEADER: Final = "Entrasync-Reason"

TRANSIENT_ERRORS: Final[tuple[type[BaseException], ...]] = (
    # NATS unreachable, reconnecting, or JetStream without a leader for a while.
    nats.errors.TimeoutError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.NoServersError,
    nats.errors.NoRespondersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.FlushTimeoutError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NoStreamResponseError,
    TimeoutError,
    ConnectionError,
)
"""Errors of an outage: a redelivery succeeds once it is over, however long it lasts."""

Outage = type[BaseException] | Callable[[BaseException], bool]
"""What a service adds to `TRANSIENT_ERRORS`: an error type, or a test of an error (e.g. "a
MongoDB error labelled retryable")."""

log = logging.getLogger("entrasync.deadletter")

Verdict = Literal["retry", "park"]


class Parking(Protocol):
    """Where a message is parked (`DeadLetters`, or a service's adapter around it)."""

    async def park(self, payload: bytes, subject: str, reason: str, msg_id: str) -> None: ...


class DeadLetters:
    """Publishes unreadable messages to one service's dead-letter subject and waits for the ack.

    `msg_id` should be stable for the original message (e.g. stream + sequence) so that a
    redelivered copy — or the copies of several replicas — is parked only once. `parked`
    counts the messages this process parked (so does the `entrasync_dead_letters` metric).
    """

    def __init__(
        self, broker: NatsBroker, names: Names, service: str, *, timeout: float = 5.0
    ) -> None:
        self._broker = broker
        self._names = names
        self._service = service
        self._subject = names.dead_letter(service)
        self._timeout = timeout
        self.parked = 0

    async def park(self, payload: bytes, subject: str, reason: str, msg_id: str) -> None:
        """Store `payload` with its origin and `reason`; raises what the broker raises."""
        reason = one_line(reason[:1000])
        log.warning("dead-lettering a message from %s: %s", subject, reason)
        await self._broker.publish(
            payload,
            self._subject,
            headers={"Nats-Msg-Id": msg_id, SUBJECT_HEADER: subject, REASON_HEADER: reason},
            stream=self._names.dead_letter_stream,
            timeout=self._timeout,
        )
        self.parked += 1
        metrics.parked(self._service)


def one_line(text: str) -> str:
    """`text` with control characters escaped (`\\n`, `\\x00`): one log line, one header."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def is_transient(error: BaseException, also: tuple[Outage, ...] = ()) -> bool:
    """True when `error` (or what it was raised from) is an outage that ends by itself:
    `TRANSIENT_ERRORS` or one of the caller's own `also` (e.g. a service's `Unavailable`, its
    database's outages). A group of errors is an outage when each of them is."""
    if isinstance(error, BaseExceptionGroup):
        return all(is_transient(inner, also) for inner in error.exceptions)
    types = TRANSIENT_ERRORS + tuple(o for o in also if isinstance(o, type))
    tests = [o for o in also if not isinstance(o, type)]
    return any(
        isinstance(cause, types) or any(test(cause) for test in tests) for cause in _causes(error)
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    # Only explicit `raise ... from` links: an error raised while handling a timeout is not
    # itself a timeout.
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def after_failure(
    error: BaseException,
    deliveries: int,
    limit: int,
    also: tuple[Outage, ...] = (),
) -> Verdict:
    """What to do with a message whose handling raised `error` on its `deliveries`-th
    delivery: "retry" an outage forever and anything else until `limit` deliveries, then
    "park" it."""
    if is_transient(error, also) or deliveries < limit:
        return "retry"
    return "park"


async def settle_failure(
    msg: NatsMessage,
    error: Exception,
    parking: Parking,
    *,
    limit: int,
    delay: float,
    msg_id: str,
    also: tuple[Outage, ...] = (),
    subject: str | None = None,
) -> Verdict:
    """Nak `msg` for a later try, or park it and ack, as `after_failure` decides; `subject` is
    the one it was published to, when the stream stores it under another (a partition's).

    Logs one line per failed delivery and the traceback once, when the message is parked.
    Should parking fail (NATS down), the message is nak'ed and parked on a later delivery.
    """
    raw = msg.raw_message
    subject = subject or raw.subject
    deliveries = raw.metadata.num_delivered or 1
    verdict = after_failure(error, deliveries, limit, also)
    if verdict == "retry":
        kind = "unavailable" if is_transient(error, also) else f"delivery {deliveries}/{limit}"
        log.warning("%s not handled (%s), retrying: %r", subject, kind, error)
        await msg.nack(delay=delay)
        return verdict
    reason = one_line(f"failed {deliveries} deliveries: {type(error).__name__}: {error}")
    log.error("parking a message from %s: %s", subject, reason, exc_info=error)
    try:
        await parking.park(raw.data, subject, reason, msg_id)
    except Exception as park_error:
        log.warning("could not park %s, retrying later: %r", msg_id, park_error)
        await msg.nack(delay=delay)
        return "retry"
    await msg.ack()
    return verdict
