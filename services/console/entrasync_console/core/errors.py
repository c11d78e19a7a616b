"""Errors as the REST API shows them: JSON `{"code", "message", "field"}` with an HTTP status.

Services answer NATS requests with the catalog's error codes (`catalog.ERROR_CODES`); this module
maps each to an HTTP status, so a script sees the same code whether it asked over NATS or HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from entrasync_shared.catalog import ErrorCode
from entrasync_shared.messages import ApiError
from pydantic import ValidationError

HTTP_STATUS: Final[dict[ErrorCode, int]] = {
    "validation": 422,
    "not_found": 404,
    "conflict": 409,
    "in_use": 409,
    "unavailable": 503,
    "timeout": 503,
    "internal": 502,
}
"""Each of `catalog.ERROR_CODES` → its HTTP status (a test holds the two to the same codes)."""


def http_status(code: str) -> int:
    """The status of a service's error code; 502 for one outside the catalog (a service that
    breaks the contract has failed)."""
    return HTTP_STATUS.get(code, 502)  # type: ignore[call-overload]  # a wire code is any str


class Problem(Exception):
    """An error the console itself raises, answered as `ApiError` JSON with `status`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = ApiError(code=code, message=message, field=field)
        self.headers = dict(headers or {})


def _field(location: Sequence[Any]) -> str | None:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or None


def first_problem(errors: Sequence[Mapping[str, Any]]) -> ApiError:
    """The first validation error as an `ApiError` naming its field (dotted path)."""
    if not errors:
        return ApiError(code="validation", message="invalid request")
    first = errors[0]
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "json_invalid":
        return ApiError(code="validation", message="the body is not valid JSON")
    if first.get("type") == "missing" and not _field(first.get("loc", ())):
        return ApiError(code="validation", message="a JSON body is required")
    return ApiError(code="validation", message=message, field=_field(first.get("loc", ())))


def validation_problem(err: ValidationError) -> Problem:
    found = first_problem(err.errors(include_url=False, include_input=False))
    return Problem(422, found.code, found.message, found.field)


ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ApiError, "description": "Not logged in, or an unknown API token"},
    403: {"model": ApiError, "description": "Session request without the CSRF header"},
    404: {"model": ApiError, "description": "No such resource"},
    409: {"model": ApiError, "description": "Stale version, duplicate name, or still in use"},
    422: {"model": ApiError, "description": "Invalid input; `field` names the culprit"},
    502: {"model": ApiError, "description": "A service failed unexpectedly"},
    503: {"model": ApiError, "description": "A service is unavailable or did not answer"},
}
