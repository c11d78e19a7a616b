"""Typed JetStream consumers from the catalog: parse, dead-letter, ack — written once.

A consumer is declared at module level for one catalog durable (or, for per-replica views, an
ordered consumer of some flows) with the handler that takes the parsed message:

    pipeline = DurableConsumer[Deps](catalog.durable("history", "pipeline"))

    @pipeline.handles
    async def on_pipeline(message: SyncStarted | ObservationBatch | SyncFinished, deps: Deps,
                          delivery: Delivery) -> Later | None: ...

and attached at start (`attach(broker, names, deps, ...)`). Outcomes map to acks in one place:

- the message does not parse into its flow's model, or the handler raises `Malformed` → parked
  on the service's dead-letter subject (with the reason), then acked — never silently dropped;
- the handler returns None → ack; `Later(delay)` → nak with that delay (e.g. "not yet");
  `Park(reason)` → parked, then acked (it gave up on the message after failures of its own);
  `Terminate()` → term (it recorded the message's end itself: neither redelivered nor parked);
- the handler raises → `deadletter.settle_failure`: an outage (the service's `outages`, or any
  transient NATS error) is retried without limit, anything else until `max_failed_deliveries`,
  then parked.

Ordered consumers (no acks) only parse and park; a failing handler is logged.

Every outcome is counted in the Prometheus metrics (`kit.metrics`: `entrasync_consumer_messages`
by service, consumer and outcome), and a durable's pending and ack-pending messages are sampled
from JetStream at each scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from faststream import AckPolicy
from faststream.nats import DeliverPolicy, JStream, NatsBroker, NatsMessage, PullSub
from nats.js.api import ConsumerConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ValidationError

from entrasync_shared import catalog
from entrasync_shared.catalog import Durable, Flow
from entrasync_shared.deadletter import DeadLetters, Outage, Parking, one_line, settle_failure
from entrasync_shared.kit import metrics
from entrasync_shared.logs import log_context
from entrasync_shared.subjects import Names

log = logging.getLogger("entrasync.consumers")

DepsT = TypeVar("DepsT")


class Malformed(Exception):
    """A message its consumer cannot read (the text says why): parked, never retried."""


@dataclass(frozen=True)
class Later:
    """Nak the message: redeliver it after `delay` seconds (not a failure)."""

    delay: float


@dataclass(frozen=True)
class Park:
    """Park the message on the dead-letter subject with `reason`, then ack it (a handler that
    counts and settles its own failures gave up on it)."""

    reason: str


@dataclass(frozen=True)
class Terminate:
    """Stop delivering the message without parking it (`term`): the handler already recorded
    how it ended, e.g. published a failed run."""


Outcome = Later | Park | Terminate | None


@dataclass(frozen=True)
class Delivery:
    """Where a message came from: its subject, stream sequence and delivery count."""

    subject: str
    sequence: int
    deliveries: int


@dataclass
class ConsumerStats:
    """What one consumer did since the process started (health APIs show it); `count` also
    records the outcome in the process's metrics."""

    service: str = ""
    consumer: str = ""
    handled: int = 0
    parked: int = 0
    retried: int = 0

    def count(self, outcome: metrics.ConsumerOutcome) -> None:
        if outcome in ("handled", "parked", "retried"):
            setattr(self, outcome, getattr(self, outcome) + 1)
        metrics.consumed(self.service, self.consumer, outcome)


Handler = Callable[[Any, DepsT, Delivery], Awaitable[Outcome]]


def _tokens_match(pattern: str, subject: str) -> bool:
    wanted, tokens = pattern.split("."), subject.split(".")
    if wanted[-1] == ">":
        return len(tokens) >= len(wanted) and all(
            w in ("*", t) for w, t in zip(wanted[:-1], tokens, strict=False)
        )
    return len(wanted) == len(tokens) and all(
        w in ("*", t) for w, t in zip(wanted, tokens, strict=True)
    )


def about(message: BaseModel) -> dict[str, str | None]:
    """The tenant and run a message is about (a CloudEvent's are in its `data`), for the log
    context of its handling: JSON log lines then carry `tenant_id` and `run_id`."""
    subject = getattr(message, "data", message)
    fields = {
        "tenant_id": getattr(subject, "tenant_id", None),
        "run_id": getattr(subject, "run_id", None),
    }
    return {key: value if isinstance(value, str) else None for key, value in fields.items()}


def parse(flows: tuple[Flow, ...], names: Names, subject: str, payload: bytes) -> BaseModel:
    """`payload` as the model of the flow `subject` belongs to; raises `Malformed`."""
    for candidate in flows:
        if candidate.message is not None and _tokens_match(candidate.pattern(names), subject):
            try:
                return candidate.message.model_validate_json(payload)
            except ValidationError as err:
                first = err.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(part) for part in first["loc"]) or "body"
                raise Malformed(
                    f"not a {candidate.message.__name__}: {where}: {first['msg']}"
                ) from None
    raise Malformed(f"unexpected subject {subject}")


def _filter(flows: tuple[Flow, ...], names: Names) -> str:
    """One subject filter covering `flows`: the pattern of a single flow, else the longest
    common token prefix + `>` (`parse` refuses anything else that matches it)."""
    patterns = [f.pattern(names).split(".") for f in flows]
    if len(patterns) == 1:
        return ".".join(patterns[0])
    common: list[str] = []
    for tokens in zip(*patterns, strict=False):
        if len(set(tokens)) != 1:
            break
        common.append(tokens[0])
    return ".".join([*common, ">"])


@dataclass
class DurableConsumer(Generic[DepsT]):
    """One catalog durable, pulled one message at a time in stream order, acked manually."""

    durable: Durable
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL
    ack_wait: float = 30.0
    max_ack_pending: int | None = None
    """At most this many delivered, unacked messages (None: the server's default). With 1, no
    later message is delivered while one waits for its ack, even after the process died with
    it: order is kept across crashes (the server updates it on an existing durable)."""
    handler: Handler[DepsT] | None = None
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    @property
    def flows(self) -> tuple[Flow, ...]:
        return tuple(catalog.flow(name) for name in self.durable.flows)

    def handles(self, handler: Handler[DepsT]) -> Handler[DepsT]:
        self.handler = handler
        return handler

    async def update_existing(
        self, js: JetStreamContext, names: Names, *, ack_wait: float | None = None
    ) -> bool:
        """Give an existing durable the declared `ack_wait` (or this one) and `max_ack_pending`;
        True if it changed. Call it at startup, before the subscribers start: nats-py binds to
        an existing durable without touching its config, so a changed value would never reach
        it. Only these editable fields change; a durable not created yet is left to `attach`."""
        stream = names.stream(self.durable.stream)
        durable = names.consumer(self.durable.service, self.durable.purpose)
        try:
            config = (await js.consumer_info(stream, durable)).config
        except NotFoundError:
            return False
        wanted = (ack_wait or self.ack_wait, self.max_ack_pending or config.max_ack_pending)
        if (config.ack_wait, config.max_ack_pending) == wanted:
            return False
        log.info("updating durable %s: ack_wait, max_ack_pending = %s", durable, wanted)
        config.ack_wait, config.max_ack_pending = wanted
        await js.add_consumer(stream, config)  # create-or-update: the same name updates it
        return True

    def attach(
        self,
        broker: NatsBroker,
        names: Names,
        deps: Callable[[], DepsT],
        *,
        parking: Parking | None = None,
        outages: tuple[Outage, ...] = (),
        max_failed_deliveries: int = 5,
        retry_delay: float = 2.0,
        fetch_timeout: float = 5.0,
        ack_wait: float | None = None,
        keepalive: float | None = None,
    ) -> None:
        """Subscribe; `parking` defaults to the service's dead-letter subject.

        `ack_wait` (from settings) replaces the declared one; with `keepalive`, a handler that
        runs long tells JetStream every `keepalive` seconds that it is still at work
        (in-progress), so the message is not redelivered meanwhile."""
        if self.handler is None:
            raise ValueError(f"{self.durable.service}-{self.durable.purpose} has no handler")
        handler, flows, stats = self.handler, self.flows, self.stats
        service, purpose = self.durable.service, self.durable.purpose
        stats.service, stats.consumer = service, purpose
        dead_letters = parking or DeadLetters(broker, names, service)
        prefix = f"{service}:{purpose}:"

        async def park(msg: NatsMessage, reason: str) -> None:
            raw = msg.raw_message
            sequence = raw.metadata.sequence.stream
            subject = names.published(raw.subject)  # replayable: the subject it was sent to
            log.error("parking message #%s on %s: %s", sequence, subject, one_line(reason))
            try:
                await dead_letters.park(raw.data, subject, reason, f"{prefix}{sequence}")
            except Exception as park_error:  # NATS is down: park it on a later delivery
                log.warning("could not park message #%s, retrying: %r", sequence, park_error)
                await msg.nack(delay=retry_delay)
                return
            stats.count("parked")
            await msg.ack()

        async def on_message(msg: NatsMessage) -> None:
            raw = msg.raw_message
            # A partitioned stream stores `part.<n>.` in the subject: handlers see the subject
            # as it was published.
            subject = names.published(raw.subject)
            delivery = Delivery(
                subject, raw.metadata.sequence.stream, raw.metadata.num_delivered or 1
            )
            try:
                message = parse(flows, names, subject, raw.data)
                with log_context(**about(message)):
                    async with _kept_alive(msg, keepalive):
                        outcome = await handler(message, deps(), delivery)
            except Malformed as err:
                await park(msg, str(err))
                return
            except Exception as err:
                verdict = await settle_failure(
                    msg,
                    err,
                    dead_letters,
                    limit=max_failed_deliveries,
                    delay=retry_delay,
                    msg_id=f"{prefix}{delivery.sequence}",
                    also=outages,
                    subject=delivery.subject,
                )
                stats.count("parked" if verdict == "park" else "retried")
                return
            if isinstance(outcome, Later):
                stats.count("later")
                await msg.nack(delay=outcome.delay)
                return
            if isinstance(outcome, Park):
                await park(msg, outcome.reason)
                return
            if isinstance(outcome, Terminate):
                stats.count("terminated")
                await msg.reject()  # term
                return
            stats.count("handled")
            await msg.ack()

        on_message.__name__ = f"on_{purpose.replace('-', '_')}"
        stream, durable = names.stream(self.durable.stream), names.consumer(service, purpose)

        async def info() -> Any:
            return await broker.config.connection_state.stream.consumer_info(stream, durable)

        metrics.consumer_lag(service, purpose, info)
        if self.durable.partition is None:
            subject_filter = _filter(flows, names)
        elif self.durable.stream == "pipeline":
            subject_filter = names.pipeline_partition(self.durable.partition)
        else:
            raise ValueError(f"{service}-{purpose}: only the pipeline stream is partitioned")
        subscriber = broker.subscriber(
            subject_filter,
            stream=JStream(stream, declare=False),
            durable=durable,
            deliver_policy=self.deliver_policy,
            # One message per pull, in stream order: FastStream runs a fetched batch
            # concurrently, and nats-py (2.16) ends an idle pull of several messages with a
            # bare asyncio.TimeoutError now and then, which FastStream (0.7) logs as an error.
            pull_sub=PullSub(batch_size=1, timeout=fetch_timeout),
            inbox_prefix=names.pull_inbox,
            # Unlimited: an outage is retried until it is over; other failures are parked by
            # `settle_failure` (the server's own limit would drop a message without a word).
            config=ConsumerConfig(
                max_deliver=-1,
                ack_wait=ack_wait or self.ack_wait,
                max_ack_pending=self.max_ack_pending,
            ),
            ack_policy=AckPolicy.MANUAL,
            title=f"{service}.{purpose}",
        )
        subscriber(on_message)


@contextlib.asynccontextmanager
async def _kept_alive(msg: NatsMessage, every: float | None) -> AsyncIterator[None]:
    """While the body runs, signal in-progress every `every` seconds (None: never)."""

    async def beat(every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await msg.in_progress()
            except Exception as err:  # a missed beat only risks a redelivery
                log.warning("in-progress signal failed: %r", err)

    task = asyncio.create_task(beat(every)) if every else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


OrderedHandler = Callable[[Any, DepsT], Awaitable[None]]


@dataclass
class OrderedConsumer(Generic[DepsT]):
    """A per-replica view of some flows: an ordered consumer (no acks; it recreates itself
    after a gap). Unreadable messages are parked (only logged with `parks=False`: for a view of
    a flow whose durable consumer already parks them); a failing handler is logged."""

    service: catalog.Service
    name: str
    flow_names: tuple[str, ...]
    deliver_policy: DeliverPolicy = DeliverPolicy.NEW
    parks: bool = True
    handler: OrderedHandler[DepsT] | None = None
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    @property
    def flows(self) -> tuple[Flow, ...]:
        return tuple(catalog.flow(name) for name in self.flow_names)

    def handles(self, handler: OrderedHandler[DepsT]) -> OrderedHandler[DepsT]:
        self.handler = handler
        return handler

    def attach(
        self, broker: NatsBroker, names: Names, deps: Callable[[], DepsT], *,
        parking: Parking | None = None,
    ) -> None:  # fmt: skip
        flows = self.flows
        if self.handler is None or len({f.stream for f in flows}) != 1:
            raise ValueError(f"{self.service}.{self.name}: one handler, flows of one stream")
        if any(self.service not in f.ordered for f in flows):
            raise ValueError(f"{self.service}.{self.name}: the catalog lists no such reader")
        handler, stats = self.handler, self.stats
        stats.service, stats.consumer = self.service, self.name
        dead_letters = parking or DeadLetters(broker, names, self.service)
        stream = names.stream(flows[0].stream)

        async def on_message(msg: NatsMessage) -> None:
            raw = msg.raw_message
            try:
                message = parse(flows, names, raw.subject, raw.data)
            except Malformed as err:
                if not self.parks:
                    log.warning("%s.%s ignores a message: %s", self.service, self.name, err)
                    return
                msg_id = f"{self.service}:{stream}:{raw.metadata.sequence.stream}"
                await dead_letters.park(raw.data, raw.subject, str(err), msg_id)
                stats.count("parked")
                return
            try:
                with log_context(**about(message)):
                    await handler(message, deps())
            except Exception:
                log.exception("%s.%s failed on %s", self.service, self.name, raw.subject)
                stats.count("failed")
                return
            stats.count("handled")

        on_message.__name__ = f"on_{self.name}"
        subscriber = broker.subscriber(
            _filter(flows, names),
            stream=JStream(stream, declare=False),
            deliver_policy=self.deliver_policy,
            ordered_consumer=True,
            title=f"{self.service}.{self.name}",
        )
        subscriber(on_message)
