"""The receiver's Prometheus metrics (docs/metrics.md), served with the kit's at `/metrics` on
the health port (never on the public port)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from prometheus_client import Counter

from entrasync_receiver.domain.notifications import Refusal

ROUTES: Final = ("notifications", "lifecycle")

REQUESTS: Final = Counter(
    "entrasync_receiver_requests",
    "POSTs Graph (or anyone) made to the receiver, by route and outcome: accepted, validation "
    "(the handshake), or the reason it was refused.",
    ("route", "outcome"),
)
PUBLISHED: Final = Counter(
    "entrasync_receiver_notifications",
    "ChangeNotified messages published, by kind (one per tenant, type and subscription of "
    "an accepted POST).",
    ("kind",),
)
LEFT_OUT: Final = Counter(
    "entrasync_receiver_items_left_out",
    "Notifications of accepted POSTs left out: of unknown or expired subscriptions, or "
    "lifecycle events this receiver does not know.",
    ("verdict",),
)


class PrometheusCounters:
    """Implements `Counters`."""

    def refused(self, route: str, reason: Refusal) -> None:
        REQUESTS.labels(route, reason).inc()

    def accepted(
        self, route: str, published: Mapping[str, int], left_out: Mapping[str, int]
    ) -> None:
        REQUESTS.labels(route, "accepted").inc()
        for kind, count in published.items():
            PUBLISHED.labels(kind).inc(count)
        for verdict, count in left_out.items():
            LEFT_OUT.labels(verdict).inc(count)

    def validated(self, route: str) -> None:
        REQUESTS.labels(route, "validation").inc()
