"""Control API, behaviour part: faults, clock, settings, throttling, resets, quirks, apps and
change-notification inspection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from entrasync_sim.clock import isoformat
from entrasync_sim.control_common import BadRequest, json_body, sim_of, tenant_of
from entrasync_sim.credentials import make_certificate
from entrasync_sim.delta import Quirks
from entrasync_sim.faults import FaultSpecError
from entrasync_sim.federation import FederatedCredential, parse_federated
from entrasync_sim.mutations import kind_of
from entrasync_sim.schema import KINDS, Kind
from entrasync_sim.subscriptions import LIFECYCLE_EVENTS
from entrasync_sim.tenants import DEFAULT_PERMISSIONS, AppRegistration
from entrasync_sim.throttle import ThrottleSettings


async def faults(request: Request) -> Response:
    """GET: the rules; POST: add one; DELETE: clear all."""
    book = sim_of(request).faults
    if request.method == "POST":
        try:
            rule = book.add(await json_body(request))
        except (FaultSpecError, TypeError) as exc:
            raise BadRequest(400, "badRequest", str(exc)) from None
        return JSONResponse(rule.describe(), status_code=201)
    if request.method == "DELETE":
        book.clear()
        return Response(status_code=204)
    return JSONResponse([rule.describe() for rule in book.rules])


async def fault(request: Request) -> Response:
    if not sim_of(request).faults.remove(request.path_params["id"]):
        raise BadRequest(404, "notFound", f"No fault {request.path_params['id']}.")
    return Response(status_code=204)


def _number(body: dict[str, Any], name: str, minimum: float = 0) -> Any:
    value = body.get(name)
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or value < minimum
    ):
        raise BadRequest(400, "badRequest", f"{name} must be a number >= {minimum}.")
    return value


async def clock(request: Request) -> Response:
    """GET: simulated now; POST `{"advance": seconds}` moves it."""
    sim = sim_of(request)
    if request.method == "POST":
        body = await json_body(request)
        advance = _number(body, "advance", minimum=-10 * 365 * 86400)
        if advance is None or set(body) != {"advance"}:
            raise BadRequest(400, "badRequest", "Body must be {'advance': seconds}.")
        sim.clock.advance(float(advance))
    return JSONResponse({"now": isoformat(sim.clock.now())})


async def settings(request: Request) -> Response:
    """GET or PATCH the process-wide settings."""
    current = sim_of(request).settings
    if request.method == "PATCH":
        body = await json_body(request)
        unknown = set(body) - set(current.describe())
        if unknown:
            raise BadRequest(400, "badRequest", f"Unknown settings: {sorted(unknown)}.")
        for name in body:
            value = _number(body, name, minimum=1)
            if value is not None:
                setattr(current, name, int(value))
    return JSONResponse(current.describe())


async def throttling(request: Request) -> Response:
    """GET or PUT (replace) the throttling budgets; a PUT also starts with full buckets."""
    throttle = sim_of(request).throttle
    if request.method == "PUT":
        body = await json_body(request)
        try:
            new = ThrottleSettings(**body)
        except TypeError:
            raise BadRequest(400, "badRequest", "Unknown throttling fields.") from None
        if not isinstance(new.enabled, bool):
            raise BadRequest(400, "badRequest", "enabled must be a boolean.")
        for name in ("budget", "window", "app_budget", "app_window", "max_retry_after"):
            _number(new.describe(), name, minimum=0.001)
        throttle.settings = new
        throttle.reset()
    return JSONResponse(throttle.settings.describe())


async def reset(request: Request) -> Response:
    """Invalidate every link issued so far for the given types (default: all)."""
    tenant = tenant_of(request)
    body = await json_body(request)
    names = body.get("types") or list(KINDS)
    kinds: list[Kind] = []
    for name in names if isinstance(names, list) else [None]:
        kind = kind_of(name)
        if kind is None:
            raise BadRequest(400, "badRequest", "types must list known types (user, group...).")
        kinds.append(kind)
    for kind in kinds:
        tenant.generations[kind] += 1
    return Response(status_code=204)


async def quirks(request: Request) -> Response:
    """GET or PUT the tenant's delta quirks."""
    tenant = tenant_of(request)
    if request.method == "PUT":
        body = await json_body(request)
        try:
            new = Quirks(**body)
        except TypeError:
            raise BadRequest(400, "badRequest", "Unknown quirk fields.") from None
        for name in ("duplicates", "replays", "empty_pages", "missed_restores"):
            value = getattr(new, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise BadRequest(400, "badRequest", f"{name} must be a probability.")
        if type(new.seed) is not int:
            raise BadRequest(400, "badRequest", "seed must be an integer.")
        tenant.quirks = new
    q = tenant.quirks
    body = {"duplicates": q.duplicates, "replays": q.replays, "empty_pages": q.empty_pages}
    return JSONResponse({**body, "missed_restores": q.missed_restores, "seed": q.seed})


def _permissions(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise BadRequest(400, "badRequest", "permissions must be a list of strings.")
    return list(value)


def _federated(value: Any) -> list[FederatedCredential]:
    if not isinstance(value, list):
        raise BadRequest(400, "badRequest", "federated must be a list of credentials.")
    try:
        return [parse_federated(item) for item in value]
    except ValueError as err:
        raise BadRequest(400, "badRequest", f"{err}.") from None


async def issuers(request: Request) -> Response:
    """GET: the external issuers known; PUT `{"issuer": url, "jwks": {"keys": [...]}}` trusts
    (or replaces) an issuer's published signing keys, as Entra would fetch them."""
    known = sim_of(request).issuers
    if request.method == "PUT":
        body = await json_body(request)
        issuer = body.get("issuer")
        if set(body) != {"issuer", "jwks"} or not isinstance(issuer, str) or not issuer:
            raise BadRequest(400, "badRequest", "Body must be {'issuer': url, 'jwks': {...}}.")
        try:
            known.register(issuer, body["jwks"])
        except ValueError as err:
            raise BadRequest(400, "badRequest", f"{err}.") from None
    return JSONResponse(known.describe())


async def apps(request: Request) -> Response:
    """GET: the tenant's apps; POST: register one (secret, certificate and/or federated
    credentials)."""
    tenant = tenant_of(request)
    if request.method == "POST":
        body = await json_body(request)
        unknown = set(body) - {"permissions", "secret", "certificate", "federated"}
        if unknown:
            raise BadRequest(400, "badRequest", f"Unknown app fields: {sorted(unknown)}.")
        permissions = _permissions(body.get("permissions", list(DEFAULT_PERMISSIONS)))
        with_secret, with_cert = body.get("secret", True), body.get("certificate", True)
        if not isinstance(with_secret, bool) or not isinstance(with_cert, bool):
            raise BadRequest(400, "badRequest", "secret and certificate must be booleans.")
        federated = _federated(body.get("federated", []))
        if not with_secret and not with_cert and not federated:
            raise BadRequest(
                400, "badRequest", "An app needs a secret, a certificate or a federated credential."
            )
        client_id = str(uuid.uuid4())
        app = AppRegistration(
            client_id=client_id,
            client_secret=uuid.uuid4().hex + "~" + uuid.uuid4().hex[:8] if with_secret else None,
            permissions=permissions,
            certificate=make_certificate(f"entrasync-sim {client_id}") if with_cert else None,
            federated=federated,
        )
        tenant.apps[client_id] = app
        return JSONResponse(app.describe(), status_code=201)
    return JSONResponse([app.describe() for app in tenant.apps.values()])


async def app(request: Request) -> Response:
    """PATCH an app: `permissions`, `secret_expires_at` (ISO-8601 or null) and/or `federated`
    (the federated credentials, replaced as a whole)."""
    tenant = tenant_of(request)
    found = tenant.apps.get(request.path_params["cid"].lower())
    if found is None:
        raise BadRequest(404, "notFound", f"No app {request.path_params['cid']} in this tenant.")
    body = await json_body(request)
    unknown = set(body) - {"permissions", "secret_expires_at", "federated"}
    if unknown:
        raise BadRequest(400, "badRequest", f"Unknown app fields: {sorted(unknown)}.")
    if "federated" in body:
        found.federated = _federated(body["federated"])
    if "permissions" in body:
        found.permissions = _permissions(body["permissions"])
    if "secret_expires_at" in body:
        found.secret_expires_at = _moment(body["secret_expires_at"])
    return JSONResponse(found.describe())


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(400, "badRequest", "secret_expires_at must be ISO-8601.") from None
    if moment.tzinfo is None:
        raise BadRequest(400, "badRequest", "secret_expires_at needs a time zone.")
    return moment


async def subscriptions(request: Request) -> Response:
    tenant = tenant_of(request)
    live = sim_of(request).notifications.of(tenant.tenant_id)
    return JSONResponse([s.describe() for s in live])


async def notifications(request: Request) -> Response:
    tenant = tenant_of(request)
    return JSONResponse(sim_of(request).notifications.log(tenant.tenant_id))


async def lifecycle(request: Request) -> Response:
    """POST a lifecycle notification (default `reauthorizationRequired`) to the subscriber."""
    tenant = tenant_of(request)
    notifier = sim_of(request).notifications
    found = notifier.subscriptions.get(request.path_params["sid"].lower())
    if found is None or found.tenant_id != tenant.tenant_id:
        raise BadRequest(404, "notFound", f"No subscription {request.path_params['sid']}.")
    if found.lifecycle_url is None:
        raise BadRequest(409, "conflict", "The subscription has no lifecycleNotificationUrl.")
    body = await json_body(request)
    event = body.get("event", "reauthorizationRequired")
    if event not in LIFECYCLE_EVENTS:
        raise BadRequest(400, "badRequest", f"Unknown lifecycle event {event!r}.")
    grace = _number(body, "grace") or 0.0
    await notifier.send_lifecycle(found, event, float(grace))
    return Response(status_code=204)
