"""What every Graph route does first: authenticate the bearer, check permissions, charge units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
import orjson
from starlette.requests import Request
from starlette.responses import Response

from entrasync_sim.errors import graph_error, graph_headers, throttled_error
from entrasync_sim.runtime import Simulator
from entrasync_sim.tenants import Tenant
from entrasync_sim.throttle import request_cost

_DIRECTORY = frozenset({"Directory.Read.All", "Directory.ReadWrite.All"})
# Application permissions that allow reading each resource.
READ_PERMISSIONS: dict[str, frozenset[str]] = {
    "users": _DIRECTORY | {"User.Read.All", "User.ReadWrite.All"},
    "groups": _DIRECTORY
    | {
        "Group.Read.All",
        "Group.ReadWrite.All",
        "GroupMember.Read.All",
        "GroupMember.ReadWrite.All",
    },
    "devices": _DIRECTORY | {"Device.Read.All", "Device.ReadWrite.All"},
    "servicePrincipals": _DIRECTORY | {"Application.Read.All", "Application.ReadWrite.All"},
    "contacts": _DIRECTORY | {"OrgContact.Read.All"},
    # Application.ReadWrite.OwnedBy, the documented least privilege for servicePrincipals and
    # applications delta, only shows the objects the app owns: not modelled, so refused here.
    "applications": _DIRECTORY | {"Application.Read.All", "Application.ReadWrite.All"},
    "directoryRoles": _DIRECTORY
    | {"RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory"},
    "administrativeUnits": _DIRECTORY
    | {"AdministrativeUnit.Read.All", "AdministrativeUnit.ReadWrite.All"},
    # PIM's schedules are not covered by Directory.Read.All
    # (rbacapplication-list-roleeligibilityschedules.md).
    "roleEligibilitySchedules": frozenset(
        {
            "RoleEligibilitySchedule.Read.Directory",
            "RoleEligibilitySchedule.ReadWrite.Directory",
            "RoleManagement.Read.All",
            "RoleManagement.Read.Directory",
            "RoleManagement.ReadWrite.Directory",
        }
    ),
    "organization": _DIRECTORY | {"Organization.Read.All", "Organization.ReadWrite.All"},
    "domains": _DIRECTORY | {"Domain.Read.All", "Domain.ReadWrite.All"},
    "subscriptions": frozenset(),
}
GRAPH_MEDIA_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)


class GraphJSON(Response):
    """A JSON response typed like Graph's (compact, UTF-8)."""

    media_type = GRAPH_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def page_bytes(head: dict[str, Any], pieces: list[str]) -> bytes:
    """A page whose entries are already JSON: `head` plus `"value"`, the array being the
    concatenation of `pieces` (see `delta_text.page_texts`)."""
    prefix = orjson.dumps(head).decode()[:-1]
    return "".join([prefix, ',"value":', *pieces, "}"]).encode()


@dataclass(frozen=True)
class Caller:
    """Who sent a Graph request: the token's tenant, app and roles."""

    tenant: Tenant
    app_id: str
    roles: frozenset[str]


def sim_of(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


def base_url(request: Request) -> str:
    """`scheme://host[:port]` as the client addressed us (links must name the same place)."""
    host = request.headers.get("host")
    if host is None:  # HTTP/1.0
        return str(request.base_url).rstrip("/")
    scope = request.scope
    return f"{scope['scheme']}://{host}{scope.get('root_path', '')}".rstrip("/")


def _invalid_token(request: Request, message: str) -> Response:
    return graph_error(
        request,
        sim_of(request).clock,
        401,
        "InvalidAuthenticationToken",
        message,
        headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
    )


_VERIFIED_LIMIT = 4096


def _claims(sim: Simulator, raw: str) -> dict[str, Any]:
    """Verified claims of a token; memoised, since PyJWT costs more than a small page."""
    cached = sim.verified_tokens.get(raw)
    if cached is None:
        cached = jwt.decode(
            raw,
            sim.signing_key,
            algorithms=["HS256"],
            # Lifetimes are checked against the simulated clock, not the wall clock.
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "require": ["exp", "tid"],
            },
        )
        if len(sim.verified_tokens) >= _VERIFIED_LIMIT:
            sim.verified_tokens.pop(next(iter(sim.verified_tokens)))
        sim.verified_tokens[raw] = cached
    return cached


def authenticate(request: Request) -> Caller | Response:
    """The caller of a valid, unexpired simulator token, or Graph's 401."""
    sim = sim_of(request)
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return _invalid_token(request, "Access token is empty.")
    try:
        claims = _claims(sim, raw.strip())
    except jwt.PyJWTError:
        return _invalid_token(request, "IDX14100: JWT is not well formed.")
    if claims["exp"] <= sim.clock.timestamp():
        return _invalid_token(request, "Lifetime validation failed, the token is expired.")
    tenant = sim.tenants.resolve(str(claims["tid"]))
    if tenant is None:
        return _invalid_token(request, "Access token validation failure. Invalid audience.")
    roles = claims.get("roles", [])
    return Caller(tenant, str(claims.get("appid", "")), frozenset(roles))


def admit(
    request: Request, resource: str, path_kind: str
) -> tuple[Caller, dict[str, str]] | Response:
    """Authenticate, authorise reading `resource`, and charge the request's resource units.

    Returns the caller and headers for the success response, or the error response.
    """
    caller = authenticate(request)
    if isinstance(caller, Response):
        return caller
    sim = sim_of(request)
    needed = READ_PERMISSIONS[resource]
    if needed and not needed & caller.roles:
        return graph_error(
            request,
            sim.clock,
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    cost = request_cost(path_kind, request.query_params)
    users = len(caller.tenant.directory.objects["users"])
    now = sim.clock.seconds()
    verdict = sim.throttle.charge(now, caller.tenant.tenant_id, caller.app_id, users, cost)
    if verdict.retry_after is not None:
        headers = {
            "Retry-After": f"{verdict.retry_after:.3f}".rstrip("0").rstrip("."),
            "x-ms-throttle-scope": verdict.scope,
            "x-ms-throttle-information": "ResourceUnitLimitExceeded",
        }
        return throttled_error(request, sim.clock, headers)
    return caller, {**graph_headers(request), **verdict.headers}
