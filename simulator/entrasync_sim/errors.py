"""Error bodies in the three dialects the simulator speaks: Entra ID, Graph and control."""

from __future__ import annotations

import random
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse

from entrasync_sim.clock import Clock, isoformat

_ERROR_URI = "https://login.microsoftonline.com/error?code={code}"


def aad_error(clock: Clock, status: int, error: str, code: int, text: str) -> JSONResponse:
    """An Entra ID (AADSTS) OAuth error response."""
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = clock.now()
    stamp = now.strftime("%Y-%m-%d %H:%M:%S") + "Z"
    description = (
        f"AADSTS{code}: {text} Trace ID: {trace_id} Correlation ID: {correlation_id} "
        f"Timestamp: {stamp}"
    )
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": _ERROR_URI.format(code=code),
    }
    return JSONResponse(body, status_code=status)


def new_request_id() -> str:
    """A random version-4 GUID, the shape of Graph's request ids.

    Not a secret, so `random` serves: `uuid.uuid4()` reads the kernel's entropy and builds a
    UUID object, four times the cost, on every response.
    """
    h = f"{random.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


# The variant bits of an RFC 4122 GUID: the 17th hex digit is one of 8, 9, a, b.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def request_ids(request: Request) -> tuple[str, str]:
    """This request's id and the client's request id (echoed when the client sent one)."""
    request_id = new_request_id()
    return request_id, request.headers.get("client-request-id", request_id)


def graph_headers(request: Request) -> dict[str, str]:
    """Headers Graph puts on every response."""
    request_id, client_request_id = request_ids(request)
    return {"request-id": request_id, "client-request-id": client_request_id}


def graph_error(
    request: Request,
    clock: Clock,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    inner: dict[str, str] | None = None,
) -> JSONResponse:
    """A Microsoft Graph error response with its `innerError` block.

    The body's `request-id` is the response header's: when `headers` already carry one (a
    route that had prepared its success headers), both use it.
    """
    all_headers = dict(headers) if headers else {}
    request_id = all_headers.get("request-id")
    if request_id is None:
        request_id, client_request_id = request_ids(request)
        all_headers["request-id"] = request_id
        all_headers["client-request-id"] = client_request_id
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                **(inner or {}),
                "date": isoformat(clock.now()),
                "request-id": request_id,
                "client-request-id": all_headers.get("client-request-id", request_id),
            },
        }
    }
    return JSONResponse(body, status_code=status, headers=all_headers)


def throttled_error(request: Request, clock: Clock, headers: dict[str, str]) -> JSONResponse:
    """Graph's 429, shaped like throttling.md's sample response: code `TooManyRequests` and
    an `innerError` carrying `"429"` as its `code` and `status`."""
    inner = {"code": "429", "message": "Please retry after", "status": "429"}
    message = "Please retry again later."
    return graph_error(request, clock, 429, "TooManyRequests", message, headers, inner)


def control_error(status: int, code: str, message: str) -> JSONResponse:
    """A control API error response."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
