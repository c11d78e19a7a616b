"""history's Prometheus metrics (docs/metrics.md): batch apply latency (the pipeline entry point
times it), the first effective-membership computation's time (the use case times it), and what
the event publisher got onto the stream — directory change events by type and change, runs
recorded by mode and status, and the kit's publishes per flow (history's pipelined publisher
bypasses the broker). The pipeline's lag is the kit's, from its durable."""

from __future__ import annotations

import collections
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from time import perf_counter
from typing import Final

from entrasync_shared.kit import metrics
from entrasync_shared.subjects import Names
from prometheus_client import Counter, Histogram

from entrasync_history.domain.events import OutgoingEvent

BATCH_APPLY: Final = Histogram(
    "entrasync_history_batch_apply_seconds",
    "Time to apply one ObservationBatch to the inventory.",
    ("object_type",),
    buckets=metrics.LATENCY_BUCKETS,
)
EVENTS: Final = Counter(
    "entrasync_history_events_published",
    "Public directory change events published, by object type and change.",
    ("object_type", "change"),
)
EFFECTIVE_COMPUTATION: Final = Histogram(
    "entrasync_history_effective_computation_seconds",
    "Time to compute a tenant's whole effective membership (its first full run's finish).",
    # Issue 20's bound is 10 s for a 100k-user tenant: finer around it, room for far bigger ones.
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0),
)
RUNS: Final = Counter(
    "entrasync_history_runs_recorded",
    "Runs recorded in Sync History (a syncRecorded published), by mode and status.",
    ("mode", "status"),
)


@contextmanager
def applying(object_type: str) -> Iterator[None]:
    """Time the apply of one batch of `object_type` (failed applies too: they took the time)."""
    started = perf_counter()
    try:
        yield
    finally:
        BATCH_APPLY.labels(object_type).observe(perf_counter() - started)


def effective_computed(seconds: float) -> None:
    """One whole-tenant effective-membership computation took `seconds` (wall clock)."""
    EFFECTIVE_COMPUTATION.observe(seconds)


def events_published(names: Names, events: Sequence[OutgoingEvent]) -> None:
    """Count events the stream has stored (an outbox entry published again after a crash
    counts again). Counted per subject (a batch's hundreds of events share a few)."""
    for subject, count in collections.Counter(event.subject for event in events).items():
        metrics.published("history", names, subject, count)
        flow = metrics.flow_of(names, subject)
        if flow is not None and flow.startswith("directory_"):
            object_type, change = subject.split(".")[-2:]
            EVENTS.labels(object_type, change).inc(count)
    for event in events:
        if metrics.flow_of(names, event.subject) == "syncRecorded":
            data = event.envelope.data
            RUNS.labels(_field(data, "mode"), _field(data, "status")).inc()


def _field(data: object, name: str) -> str:
    """A field of an event's data: a model, or its JSON form (an event read back from the
    outbox)."""
    value = data.get(name) if isinstance(data, dict) else getattr(data, name, None)
    return str(value) if value is not None else "unknown"
