"""The routes Graph posts to: `POST /notifications` and `POST /lifecycle`.

Both answer the validation handshake (`?validationToken=...`: the URL-decoded token echoed as
`text/plain` with 200, at once; learn.microsoft.com/graph/change-notifications-delivery-webhooks,
"notificationUrl validation") and otherwise take a notification collection, read up to
`MAX_BODY_BYTES` (413 beyond, without reading the rest), and answer as `usecases.receive`
decides: 202 when accepted (Graph wants a 2xx within 3 seconds), 4xx when refused, 503 when
NATS is unreachable (Graph retries). Nothing else is served on this port.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from entrasync_receiver.domain.notifications import (
    MAX_BODY_BYTES,
    MAX_VALIDATION_TOKEN,
    Refused,
)
from entrasync_receiver.usecases.receive import Deps, receive, refuse

_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, read chunk by chunk; `Refused("too_large")` as soon as it exceeds `limit`
    (a Content-Length above it is refused before reading anything)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused("too_large", f"Content-Length {declared}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused("too_large", f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, text: str, retry_after: int | None = None) -> Response:
    headers = dict(_HEADERS)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return PlainTextResponse(text, status_code=status, headers=headers)


def _route(name: str, deps: Callable[[], Deps]) -> Callable[[Request], object]:
    async def endpoint(request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            if len(token) > MAX_VALIDATION_TOKEN:
                refuse(deps(), name, Refused("malformed", "validationToken too long"))
                return _answer(400, "malformed")
            deps().counters.validated(name)
            # Echoed as it is, as plain text: `nosniff` keeps a browser from rendering it.
            return _answer(200, token)
        try:
            body = await read_body(request)
        except Refused as refused:
            refuse(deps(), name, refused)
            return _answer(refused.status, refused.reason)
        answer = await receive(deps(), name, body)
        return _answer(answer.status, answer.reason, answer.retry_after)

    return endpoint


def build_http(deps: Callable[[], Deps]) -> Starlette:
    """The public app; `deps()` yields the adapters once the service has started."""
    return Starlette(
        routes=[
            Route("/notifications", _route("notifications", deps), methods=["POST"]),
            Route("/lifecycle", _route("lifecycle", deps), methods=["POST"]),
        ]
    )
