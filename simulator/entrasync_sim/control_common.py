"""Helpers every control endpoint shares: lookups, JSON bodies and error mapping."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from entrasync_sim.directory import DirectoryError
from entrasync_sim.errors import control_error
from entrasync_sim.runtime import Simulator
from entrasync_sim.tenants import Tenant


class BadRequest(Exception):
    """A refused control call: status, code and message for the error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def sim_of(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


def tenant_of(request: Request) -> Tenant:
    tenant = sim_of(request).tenants.resolve(request.path_params["tid"])
    if tenant is None:
        raise BadRequest(404, "tenantNotFound", f"Tenant {request.path_params['tid']} not found.")
    return tenant


async def json_body(request: Request, kind: type = dict) -> Any:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise BadRequest(400, "badRequest", "Body is not valid JSON.") from None
    if not isinstance(body, kind):
        raise BadRequest(400, "badRequest", f"Body must be a JSON {kind.__name__}.")
    return body


Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(endpoint: Endpoint) -> Endpoint:
    """Turn refusals into control error bodies."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except (BadRequest, DirectoryError) as exc:
            return control_error(exc.status, exc.code, exc.message)

    return run
