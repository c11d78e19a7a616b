"""Microsoft Graph side: /organization and delta queries for users, groups and devices."""

from __future__ import annotations

import re
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from entrasync_sim.delta import PagingLimits, SelectError, build_page, parse_select
from entrasync_sim.errors import graph_error, graph_headers
from entrasync_sim.runtime import Simulator
from entrasync_sim.schema import Kind, parse_kind
from entrasync_sim.tenants import Tenant
from entrasync_sim.tokens import RoundState, TokenError, decode_token, encode_token

_DELTA_FUNCTIONS = {"delta", "delta()", "microsoft.graph.delta()"}
_MAX_PAGE_SIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


def _sim(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _authenticate(request: Request) -> Tenant | Response:
    sim = _sim(request)
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    message = "Access token validation failure. Invalid audience."
    claims: dict[str, Any] = {}
    if scheme.lower() != "bearer" or not raw.strip():
        message = "Access token is empty."
    else:
        try:
            claims = jwt.decode(
                raw.strip(),
                sim.signing_key,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_aud": False, "require": ["exp", "tid"]},
            )
        except jwt.PyJWTError:
            message = "IDX14100: JWT is not well formed."
    if claims and claims["exp"] <= sim.clock.timestamp():
        message = "Lifetime validation failed, the token is expired."
        claims = {}
    tenant = sim.tenants.resolve(str(claims.get("tid", ""))) if claims else None
    if tenant is None:
        return graph_error(
            request,
            sim.clock,
            401,
            "InvalidAuthenticationToken",
            message,
            headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
        )
    return tenant


async def organization(request: Request) -> Response:
    """The signed-in tenant's organization object."""
    tenant = _authenticate(request)
    if isinstance(tenant, Response):
        return tenant
    body = {
        "@odata.context": f"{_base(request)}/v1.0/$metadata#organization",
        "value": [
            {
                "id": tenant.tenant_id,
                "displayName": tenant.display_name,
                "verifiedDomains": [
                    {
                        "name": tenant.domain,
                        "isDefault": True,
                        "isInitial": True,
                        "type": "Managed",
                        "capabilities": "Email, OfficeCommunicationsOnlineService",
                    }
                ],
            }
        ],
    }
    return JSONResponse(body, headers=graph_headers(request))


def _page_size(request: Request, default: int) -> tuple[int, str | None]:
    match = _MAX_PAGE_SIZE.search(request.headers.get("prefer", ""))
    if match and 0 < int(match.group(1)) < default:
        size = int(match.group(1))
        return size, f"odata.maxpagesize={size}"
    return default, None


def _start_state(request: Request, tenant: Tenant, kind: Kind) -> RoundState:
    """Raises TokenError or SelectError for unusable query parameters."""
    params = request.query_params
    skip, delta = params.get("$skiptoken"), params.get("$deltatoken")
    if skip is not None and delta is not None:
        raise TokenError("Badly formed token.")
    if skip is not None:
        return decode_token(skip, kind, tenant.tenant_id)
    if delta is not None:
        state = decode_token(delta, kind, tenant.tenant_id)
        if state.since is None or state.cursor:
            raise TokenError("Badly formed token.")
        return RoundState(kind, tenant.tenant_id, state.select, state.since, tenant.directory.seq)
    select = parse_select(kind, params.get("$select"))
    return RoundState(kind, tenant.tenant_id, select, None, tenant.directory.seq)


async def delta(request: Request) -> Response:
    """`GET /v1.0/{kind}/delta` in any of Graph's spellings."""
    sim = _sim(request)
    kind = parse_kind(request.path_params["kind"])
    function = request.path_params["function"]
    if kind is None or function not in _DELTA_FUNCTIONS:
        return await not_found(request)
    tenant = _authenticate(request)
    if isinstance(tenant, Response):
        return tenant
    page_size, applied = _page_size(request, sim.page_size)
    limits = PagingLimits(page_size, sim.member_slice, scan_budget=max(1000, 10 * page_size))
    try:
        if request.query_params.get("$deltatoken") == "latest":
            select = parse_select(kind, request.query_params.get("$select"))
            seq = tenant.directory.seq
            state = RoundState(kind, tenant.tenant_id, select, since=seq, upto=seq)
            entries: list[dict[str, Any]] = []
            next_state: RoundState | None = None
        else:
            state = _start_state(request, tenant, kind)
            entries, next_state = build_page(tenant.directory, state, limits)
    except (TokenError, SelectError) as exc:
        return graph_error(request, sim.clock, 400, "badRequest", str(exc))
    link_base = f"{_base(request)}/v1.0/{kind}/delta"
    selected = f"({','.join(state.select)})" if state.select else ""
    body: dict[str, Any] = {
        "@odata.context": f"{_base(request)}/v1.0/$metadata#{kind}{selected}",
        "value": entries,
    }
    if next_state is not None:
        body["@odata.nextLink"] = f"{link_base}?$skiptoken={encode_token(next_state)}"
    else:
        final = state.next_round(issued_at=sim.clock.timestamp())
        body["@odata.deltaLink"] = f"{link_base}?$deltatoken={encode_token(final)}"
    headers = graph_headers(request)
    if applied:
        headers["Preference-Applied"] = applied
    return JSONResponse(body, headers=headers)


async def not_found(request: Request) -> Response:
    """Graph's answer to a path it does not know."""
    segment = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    message = f"Resource not found for the segment '{segment}'."
    return graph_error(request, _sim(request).clock, 400, "BadRequest", message)


ROUTES = [
    Route("/v1.0/organization", organization),
    Route("/v1.0/{kind}/{function}", delta),
    Route("/v1.0/{rest:path}", not_found),
]
