"""The console's HTTP metrics (docs/metrics.md): requests by route template, method and status,
and their latency. Labelled by the route's template (`/api/v1/tenants/{tenant_id}`), never the
path, which carries ids; served with the kit's on the health port."""

from __future__ import annotations

import time
from typing import Any, Final

from entrasync_shared.kit.metrics import LATENCY_BUCKETS
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS: Final = Counter(
    "entrasync_console_requests",
    "HTTP requests answered, by route template, method and status.",
    ("route", "method", "status"),
)
LATENCY: Final = Histogram(
    "entrasync_console_request_duration_seconds",
    "Time to answer an HTTP request.",
    ("route", "method"),
    buckets=LATENCY_BUCKETS,
)


def route_of(scope: Scope) -> str:
    """The template of the route that answered (`unmatched` when none did)."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class RequestMetrics:
    """ASGI middleware counting every HTTP request the app answers (outermost, so refusals by
    the other middlewares count too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before it starts a reply

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = route_of(scope)
            REQUESTS.labels(route, method, str(status)).inc()
            LATENCY.labels(route, method).observe(time.perf_counter() - started)
