"""Control API, change-notification part: per-tenant delivery conditions and quotas."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from entrasync_sim.control_common import BadRequest, json_body, sim_of, tenant_of
from entrasync_sim.delivery import parse_quotas, parse_switch
from entrasync_sim.slow_endpoints import SlowEndpoints, parse_policy


async def delivery(request: Request) -> Response:
    """GET or PUT `{"delay", "loss", "drop_next", "seed"}`: how the tenant's change
    notifications travel from now on (PUT replaces the switch and its `lost` count)."""
    tenant, notifier = tenant_of(request), sim_of(request).notifications
    if request.method == "PUT":
        try:
            notifier.switches[tenant.tenant_id] = parse_switch(await json_body(request))
        except ValueError as exc:
            raise BadRequest(400, "badRequest", str(exc)) from None
    return JSONResponse(notifier.switch(tenant.tenant_id).describe())


async def quotas(request: Request) -> Response:
    """GET or PUT `{"per_app_and_tenant", "per_tenant", "per_app"}` (omitted: Graph's)."""
    notifier = sim_of(request).notifications
    if request.method == "PUT":
        try:
            notifier.quotas = parse_quotas(await json_body(request))
        except ValueError as exc:
            raise BadRequest(400, "badRequest", str(exc)) from None
    return JSONResponse(notifier.quotas.describe())


async def slow_endpoints(request: Request) -> Response:
    """GET or PUT the slow-endpoint throttling policy (omitted fields: the documented
    values); PUT also forgets every endpoint's counts and flag."""
    notifier = sim_of(request).notifications
    if request.method == "PUT":
        try:
            notifier.slow = SlowEndpoints(parse_policy(await json_body(request)))
        except ValueError as exc:
            raise BadRequest(400, "badRequest", str(exc)) from None
    return JSONResponse(notifier.slow.policy.describe())
