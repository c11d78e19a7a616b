"""The syncer's Prometheus metrics (docs/metrics.md), recorded by the adapters that see the
events: the run publisher (runs, type results, objects), the Graph reader (requests, throttling)
and the token source. Served with the kit's at `/metrics` on the health port."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from entrasync_shared.messages import ObservationBatch, SyncFinished
from entrasync_shared.subjects import GRAPH_PATHS
from prometheus_client import Counter, Histogram

RUN_BUCKETS: Final = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
RETRY_AFTER_BUCKETS: Final = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Each type's collection (`directory/administrativeUnits` labelled by its last segment).
ENDPOINTS: Final = (*(path.rsplit("/", 1)[-1] for path in GRAPH_PATHS.values()), "organization")

RUNS: Final = Counter(
    "entrasync_syncer_runs",
    "Runs ended (a syncFinished published), by tenant, mode and status.",
    ("tenant_id", "mode", "status"),
)
RUN_SECONDS: Final = Histogram(
    "entrasync_syncer_run_duration_seconds",
    "Time from a run attempt's start to its end.",
    ("mode", "status"),
    buckets=RUN_BUCKETS,
)
TYPE_RESULTS: Final = Counter(
    "entrasync_syncer_type_results",
    "One object type's result in a run (reason resync: Graph refused its delta link).",
    ("object_type", "mode", "reason", "status"),
)
OBJECTS: Final = Counter(
    "entrasync_syncer_objects",
    "Objects published to history: observed, soft_deleted or deleted.",
    ("object_type", "change"),
)
GRAPH_REQUESTS: Final = Counter(
    "entrasync_syncer_graph_requests",
    "Graph requests sent (retries included), by endpoint kind and HTTP status or unreachable.",
    ("endpoint", "code"),
)
THROTTLE_WAIT: Final = Counter(
    "entrasync_syncer_throttle_wait_seconds",
    "Seconds requests spent waiting out Graph's throttling.",
    ("endpoint",),
)
RETRY_AFTER: Final = Histogram(
    "entrasync_syncer_retry_after_seconds",
    "The Retry-After Graph sent with a throttling answer.",
    ("endpoint",),
    buckets=RETRY_AFTER_BUCKETS,
)
TOKENS: Final = Counter(
    "entrasync_syncer_token_requests",
    "Access-token requests to Entra ID: acquired, retried, refused or unavailable.",
    ("kind", "result"),
)


def endpoint_of(url: str) -> str:
    """The kind of Graph endpoint `url` asks (a type's collection: `users`, `groups`,
    `servicePrincipals`, `administrativeUnits`...; `members`, `organization`, else `other`): a
    bounded label, where the path holds ids."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if "members" in segments:
        return "members"
    return next((s for s in segments if s in ENDPOINTS), "other")


def graph_answered(url: str, status: int | None) -> None:
    """One Graph request ended: its HTTP status, or None when no answer came."""
    GRAPH_REQUESTS.labels(endpoint_of(url), str(status) if status else "unreachable").inc()


def throttled(url: str, retry_after: float | None) -> None:
    """Graph answered a request of `url` with a throttling status (and maybe a Retry-After)."""
    if retry_after is not None:
        RETRY_AFTER.labels(endpoint_of(url)).observe(retry_after)


def waited(url: str, seconds: float) -> None:
    """A request of `url` waited `seconds` for throttling to pass."""
    THROTTLE_WAIT.labels(endpoint_of(url)).inc(seconds)


def token(kind: str, result: str) -> None:
    """A token request ended (`acquired`, `refused`, `unavailable`) or is tried again
    (`retried`)."""
    TOKENS.labels(kind, result).inc()


def batch_published(batch: ObservationBatch) -> None:
    """Count a batch's objects by change."""
    OBJECTS.labels(batch.object_type, "observed").inc(len(batch.objects))
    for removal in batch.removals:
        change = "soft_deleted" if removal.reason == "changed" else "deleted"
        OBJECTS.labels(batch.object_type, change).inc()


def run_finished(event: SyncFinished) -> None:
    """Count a run, its duration and its types' results."""
    status = event.status
    RUNS.labels(event.tenant_id, event.mode, status).inc()
    seconds = (event.finished_at - event.started_at).total_seconds()
    RUN_SECONDS.labels(event.mode, status).observe(max(seconds, 0.0))
    for result in event.results:
        TYPE_RESULTS.labels(result.object_type, result.mode, result.reason, result.status).inc()
