"""The console's HTTP requests as trace roots (or children of a caller's `traceparent`): each
request is a server span, so the NATS API calls it makes (`kit.ApiClient`) carry its trace on
to the services. Added only when tracing is on (`kit.tracing`)."""

from __future__ import annotations

from entrasync_shared.kit import tracing
from opentelemetry import propagate
from opentelemetry.context import attach, detach
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrasync_console.web.metrics import route_of


class TracedRequests:
    """ASGI middleware: one span per HTTP request, named by method and route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        token = attach(propagate.extract(carrier))
        try:
            await self._traced(scope, receive, send)
        finally:
            detach(token)

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        attributes = {"http.request.method": method, "url.path": scope["path"]}
        with tracing.span(method, attributes, kind=SpanKind.SERVER) as span:

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(StatusCode.ERROR)
                await send(message)

            try:
                await self.app(scope, receive, sending)
            finally:
                route = route_of(scope)
                span.set_attribute("http.route", route)
                span.update_name(f"{method} {route}")
