"""`/v1.0/subscriptions`: create (with the validation handshake), read, renew, delete."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from entrasync_sim.errors import graph_error
from entrasync_sim.graph_common import READ_PERMISSIONS, Caller, GraphJSON, admit, base_url, sim_of
from entrasync_sim.subscriptions import MAX_MINUTES, Subscription, url_problem

_CHANGE_TYPES = {"created", "updated", "deleted"}


class _Invalid(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _resource_kind(resource: str) -> str:
    """`users` or `groups` for the resources directory subscriptions support."""
    parts = resource.strip("/").lower().split("/")
    if parts[0] in ("users", "groups") and len(parts) <= 2:
        return parts[0]
    if len(parts) == 3 and parts[0] == "groups" and parts[2] == "members":
        return "groups"
    raise _Invalid(400, "InvalidRequest", f"Resource '{resource}' is not supported.")


def _expiry(request: Request, raw: Any) -> datetime:
    now = sim_of(request).clock.now()
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid(400, "InvalidRequest", "expirationDateTime is not a date.") from None
    if moment.tzinfo is None:
        raise _Invalid(400, "InvalidRequest", "expirationDateTime needs a time zone.")
    if moment <= now:
        raise _Invalid(400, "InvalidRequest", "Subscription expiration must be in the future.")
    if moment > now + timedelta(minutes=MAX_MINUTES):
        raise _Invalid(
            400,
            "InvalidRequest",
            f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.",
        )
    return moment


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise _Invalid(400, "BadRequest", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _Invalid(400, "BadRequest", "The request body must be a JSON object.")
    return body


def _caller(request: Request) -> tuple[Caller, dict[str, str]] | Response:
    return admit(request, "subscriptions", "subscriptions")


async def create(request: Request) -> Response:
    admitted = _caller(request)
    if isinstance(admitted, Response):
        return admitted
    caller, headers = admitted
    sim = sim_of(request)
    try:
        body = await _body(request)
        missing = [
            k
            for k in ("changeType", "notificationUrl", "resource", "expirationDateTime")
            if not body.get(k)
        ]
        if missing:
            raise _Invalid(400, "InvalidRequest", f"Missing required property '{missing[0]}'.")
        resource = str(body["resource"])
        kind = _resource_kind(resource)
        if not READ_PERMISSIONS[kind] & caller.roles:
            raise _Invalid(
                403,
                "ExtensionError",
                "Operation: Create; Exception: [Status Code: Forbidden; Reason: "
                "Insufficient privileges to complete the operation.]",
            )
        change_types = [c.strip() for c in str(body["changeType"]).split(",") if c.strip()]
        if not change_types or set(change_types) - _CHANGE_TYPES:
            raise _Invalid(400, "InvalidRequest", "changeType must be created/updated/deleted.")
        expires = _expiry(request, body["expirationDateTime"])
        quota = sim.notifications.quota_problem(caller.tenant.tenant_id, caller.app_id)
        if quota is not None:
            # The documented 403; the reason text is the one Graph answers for a quota.
            reason = f"Operation: Create; Exception: [Status Code: Forbidden; Reason: {quota}]"
            raise _Invalid(403, "ExtensionError", reason)
        urls = [str(body["notificationUrl"])]
        if body.get("lifecycleNotificationUrl"):
            urls.append(str(body["lifecycleNotificationUrl"]))
        for url in urls:
            problem = url_problem(url) or await sim.notifications.validate(
                caller.tenant.tenant_id, url
            )
            if problem:
                raise _Invalid(400, "ValidationError", problem)
    except _Invalid as bad:
        return graph_error(request, sim.clock, bad.status, bad.code, bad.message, headers=headers)
    subscription = Subscription(
        id=str(uuid.uuid4()),
        tenant_id=caller.tenant.tenant_id,
        app_id=caller.app_id,
        resource=resource,
        change_types=change_types,
        notification_url=urls[0],
        lifecycle_url=urls[1] if len(urls) > 1 else None,
        client_state=body.get("clientState"),
        expires=expires,
    )
    sim.notifications.subscriptions[subscription.id] = subscription
    return GraphJSON(_rendered(request, subscription), status_code=201, headers=headers)


def _rendered(request: Request, subscription: Subscription) -> dict[str, Any]:
    context = f"{base_url(request)}/v1.0/$metadata#subscriptions/$entity"
    return {"@odata.context": context, **subscription.describe()}


def _find(request: Request, caller: Caller) -> Subscription | None:
    sim = sim_of(request)
    found = sim.notifications.subscriptions.get(request.path_params["id"].lower())
    if found is None or found.tenant_id != caller.tenant.tenant_id:
        return None
    if found.app_id != caller.app_id or found.expires <= sim.clock.now():
        return None
    return found


def _missing(request: Request, headers: dict[str, str]) -> Response:
    message = f"The object was not found. Subscription '{request.path_params['id']}'."
    return graph_error(
        request, sim_of(request).clock, 404, "ResourceNotFound", message, headers=headers
    )


async def list_all(request: Request) -> Response:
    admitted = _caller(request)
    if isinstance(admitted, Response):
        return admitted
    caller, headers = admitted
    mine = sim_of(request).notifications.of(caller.tenant.tenant_id, caller.app_id)
    body = {
        "@odata.context": f"{base_url(request)}/v1.0/$metadata#subscriptions",
        "value": [s.describe() for s in mine],
    }
    return GraphJSON(body, headers=headers)


async def one(request: Request) -> Response:
    """GET, PATCH (renew: `expirationDateTime`) and DELETE of one subscription."""
    admitted = _caller(request)
    if isinstance(admitted, Response):
        return admitted
    caller, headers = admitted
    subscription = _find(request, caller)
    if subscription is None:
        return _missing(request, headers)
    sim = sim_of(request)
    if request.method == "DELETE":
        del sim.notifications.subscriptions[subscription.id]
        return Response(status_code=204, headers=headers)
    if request.method == "PATCH":
        try:
            body = await _body(request)
            subscription.expires = _expiry(request, body.get("expirationDateTime"))
            # Renewing also reauthorizes (change-notifications-lifecycle-events.md).
            subscription.paused_from = None
        except _Invalid as bad:
            return graph_error(
                request, sim.clock, bad.status, bad.code, bad.message, headers=headers
            )
    return GraphJSON(_rendered(request, subscription), headers=headers)


async def reauthorize(request: Request) -> Response:
    admitted = _caller(request)
    if isinstance(admitted, Response):
        return admitted
    caller, headers = admitted
    subscription = _find(request, caller)
    if subscription is None:
        return _missing(request, headers)
    subscription.paused_from = None
    return Response(status_code=204, headers=headers)
