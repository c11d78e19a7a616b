"""Prometheus metrics every service shares, and the scrape that serves them.

One registry per process: prometheus_client's default `REGISTRY` (it also carries the
`process_*` and `python_*` collectors). The health server serves it at `/metrics`
(`exposition()`), after running the samplers registered with `on_scrape` (gauges read from
elsewhere at scrape time, e.g. a durable consumer's pending messages).

The kit records, for every service and without the service doing anything:

- each API request by endpoint and reply code, and its latency (`ApiRouter`);
- each consumed message by consumer and outcome (`DurableConsumer`, `OrderedConsumer`);
- each message parked on the dead-letter subject (`DeadLetters`);
- each message published on a catalog flow (`count_publishes`, added by `ApiRouter.attach`);
- each durable consumer's pending and ack-pending messages, sampled at scrape.

Labels are bounded: services, verbs, codes, consumers and flows come from the catalog; no
label ever carries a tenant, object or run id. `docs/metrics.md` lists every metric.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal

from faststream._internal.middlewares import BaseMiddleware
from faststream.response import PublishType
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from entrasync_shared import catalog
from entrasync_shared.subjects import Names

log = logging.getLogger("entrasync.metrics")

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""The content type of `exposition()` (Prometheus text format 0.0.4)."""

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds: from a cached read (a few ms) to a Test Connection waiting on Graph (a minute)."""

SCRAPE_SAMPLE_TIMEOUT: Final = 2.0
"""How long one sampler may take at scrape before its gauges are served as they were."""

ConsumerOutcome = Literal["handled", "later", "parked", "retried", "terminated", "failed"]

API_REQUESTS: Final = Counter(
    "entrasync_api_requests",
    "Request-reply API requests answered, by endpoint and reply code (ok or an error code).",
    ("service", "verb", "code"),
)
API_LATENCY: Final = Histogram(
    "entrasync_api_request_duration_seconds",
    "Time from receiving an API request to its reply.",
    ("service", "verb"),
    buckets=LATENCY_BUCKETS,
)
CONSUMED: Final = Counter(
    "entrasync_consumer_messages",
    "Messages a JetStream consumer dealt with, by outcome: handled (acked), later (nak'ed "
    "on purpose), retried (nak'ed after a failure), parked (dead-lettered, acked), "
    "terminated, failed (an ordered consumer's handler raised).",
    ("service", "consumer", "outcome"),
)
DEAD_LETTERS: Final = Counter(
    "entrasync_dead_letters",
    "Messages this process parked on its service's dead-letter subject.",
    ("service",),
)
PUBLISHED: Final = Counter(
    "entrasync_messages_published",
    "Messages published on a catalog flow (commands, pipeline messages, events).",
    ("service", "flow"),
)
CONSUMER_PENDING: Final = Gauge(
    "entrasync_consumer_pending_messages",
    "A durable consumer's messages not yet delivered (sampled from JetStream at scrape).",
    ("service", "consumer"),
)
CONSUMER_ACK_PENDING: Final = Gauge(
    "entrasync_consumer_ack_pending_messages",
    "A durable consumer's messages delivered but not yet acked (sampled at scrape).",
    ("service", "consumer"),
)

Sampler = Callable[[], Awaitable[None]]
_samplers: dict[str, Sampler] = {}


def on_scrape(key: str, sampler: Sampler) -> None:
    """Run `sampler` before each scrape of `/metrics` (it sets gauges); a later sampler with
    the same `key` replaces it (an app built again in the same process)."""
    _samplers[key] = sampler


async def sample() -> None:
    """Run every sampler, each within `SCRAPE_SAMPLE_TIMEOUT`; a failing one is logged and its
    gauges keep their last values (a scrape never fails for it)."""
    for key, sampler in list(_samplers.items()):
        try:
            await asyncio.wait_for(sampler(), SCRAPE_SAMPLE_TIMEOUT)
        except Exception as err:
            log.debug("metrics sampler %s failed: %r", key, err)


async def exposition() -> bytes:
    """Every metric of the process in the Prometheus text format, samplers run first."""
    await sample()
    return generate_latest(REGISTRY)


def api_answered(service: str, verb: str, code: str | None, started_ns: int) -> None:
    """Record one API request (`code` None when it succeeded) started at `started_ns`
    (`time.perf_counter_ns()`)."""
    API_REQUESTS.labels(service, verb, code or "ok").inc()
    API_LATENCY.labels(service, verb).observe((time.perf_counter_ns() - started_ns) / 1e9)


def consumed(service: str, consumer: str, outcome: ConsumerOutcome) -> None:
    """Record one message a consumer dealt with."""
    CONSUMED.labels(service, consumer, outcome).inc()


def parked(service: str) -> None:
    """Record one message parked on `service`'s dead-letter subject."""
    DEAD_LETTERS.labels(service).inc()


@functools.lru_cache(maxsize=16)
def _patterns(names: Names) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((flow.name, tuple(flow.pattern(names).split("."))) for flow in catalog.FLOWS)


@functools.lru_cache(maxsize=16_384)
def flow_of(names: Names, subject: str) -> str | None:
    """The name of the catalog flow `subject` belongs to, or None (a reply, an API call).
    Cached: history asks once per published event, and subjects repeat (tenant, type, kind)."""
    tokens = subject.split(".")
    for name, wanted in _patterns(names):
        if len(wanted) == len(tokens) and all(
            w in ("*", t) for w, t in zip(wanted, tokens, strict=True)
        ):
            return name
    return None


def published(service: str, names: Names, subject: str, count: int = 1) -> None:
    """Count one message `service` published on `subject` (nothing unless it is a catalog
    flow's); for publishers that bypass the broker, e.g. history's pipelined events."""
    flow = flow_of(names, subject)
    if flow is not None:
        PUBLISHED.labels(service, flow).inc(count)


def count_publishes(service: str, names: Names) -> Callable[..., BaseMiddleware[Any, Any]]:
    """A FastStream broker middleware counting `service`'s publishes per catalog flow
    (`broker.add_middleware(count_publishes("history", names))`); the flow, not the subject,
    is the label, since subjects carry tenant ids."""

    class CountPublishes(BaseMiddleware[Any, Any]):
        async def publish_scope(self, call_next: Callable[[Any], Awaitable[Any]], cmd: Any) -> Any:
            result = await call_next(cmd)
            if cmd.publish_type is PublishType.PUBLISH:
                published(service, names, cmd.destination)
            return result

    return CountPublishes


def consumer_lag(service: str, consumer: str, info: Callable[[], Awaitable[Any]]) -> None:
    """Sample a durable consumer's pending and ack-pending messages at each scrape, from
    `info()` (nats-py's `ConsumerInfo`)."""

    async def sampler() -> None:
        state = await info()
        CONSUMER_PENDING.labels(service, consumer).set(state.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(service, consumer).set(state.num_ack_pending or 0)

    on_scrape(f"consumer:{service}:{consumer}", sampler)
