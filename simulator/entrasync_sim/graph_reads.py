"""Cheap Graph reads for connection tests: organization, domains, lists and single objects."""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from entrasync_sim.delta import SelectError, parse_select
from entrasync_sim.directory import Lifecycle
from entrasync_sim.errors import graph_error
from entrasync_sim.graph_common import GraphJSON, admit, base_url, sim_of
from entrasync_sim.schema import PROPERTIES, Kind, parse_delta_kind

DEFAULT_TOP = 100
MAX_TOP = 999
_UNSUPPORTED = ("$filter", "$orderby", "$search", "$expand", "$count", "$skip")


def _domain(name: str, initial: bool) -> dict[str, Any]:
    return {
        "id": name,
        "authenticationType": "Managed",
        "isAdminManaged": True,
        "isDefault": initial,
        "isInitial": initial,
        "isRoot": True,
        "isVerified": True,
        "supportedServices": ["Email", "OfficeCommunicationsOnlineService"],
        "passwordValidityPeriodInDays": 2147483647,
        "passwordNotificationWindowInDays": 14,
    }


async def organization(request: Request) -> Response:
    """The signed-in tenant's organization object."""
    admitted = admit(request, "organization", "organization")
    if isinstance(admitted, Response):
        return admitted
    caller, headers = admitted
    tenant = caller.tenant
    verified = [
        {
            "name": name,
            "isDefault": index == 0,
            "isInitial": index == 0,
            "type": "Managed",
            "capabilities": "Email, OfficeCommunicationsOnlineService",
        }
        for index, name in enumerate(tenant.domains)
    ]
    body = {
        "@odata.context": f"{base_url(request)}/v1.0/$metadata#organization",
        "value": [
            {
                "id": tenant.tenant_id,
                "displayName": tenant.display_name,
                "tenantType": "AAD",
                "countryLetterCode": "US",
                "verifiedDomains": verified,
            }
        ],
    }
    return GraphJSON(body, headers=headers)


async def domains(request: Request) -> Response:
    """The tenant's verified domains."""
    admitted = admit(request, "domains", "domains")
    if isinstance(admitted, Response):
        return admitted
    caller, headers = admitted
    names = caller.tenant.domains
    body = {
        "@odata.context": f"{base_url(request)}/v1.0/$metadata#domains",
        "value": [_domain(name, index == 0) for index, name in enumerate(names)],
    }
    return GraphJSON(body, headers=headers)


def encode_cursor(cursor: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": cursor}).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> str:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after = payload["after"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise SelectError("Badly formed token.") from None
    if not isinstance(after, str):
        raise SelectError("Badly formed token.")
    return after


def list_paging(params: Any) -> tuple[int, str]:
    """`$top` and the `$skiptoken` cursor of a list read; SelectError for what Graph refuses."""
    unsupported = [name for name in _UNSUPPORTED if name in params]
    if unsupported:
        raise SelectError(f"Unsupported query option: {unsupported[0]}.")
    raw_top = params.get("$top", str(DEFAULT_TOP))
    if not raw_top.isdigit() or not 1 <= int(raw_top) <= MAX_TOP:
        raise SelectError(
            f"Invalid page size specified: '{raw_top}'. Must be between 1 and 999 inclusive."
        )
    after = decode_cursor(params["$skiptoken"]) if "$skiptoken" in params else ""
    return int(raw_top), after


def resource_not_found(request: Request, object_id: str, headers: dict[str, str]) -> Response:
    """Graph's 404 for an object that does not exist (or is deleted)."""
    message = (
        f"Resource '{object_id}' does not exist or one of its queried reference-property "
        "objects are not present."
    )
    return graph_error(
        request, sim_of(request).clock, 404, "Request_ResourceNotFound", message, headers=headers
    )


def next_link(request: Request, path: str, last: str) -> str:
    """The nextLink continuing a list after `last`, keeping the request's other options."""
    query = "&".join(f"{k}={v}" for k, v in request.query_params.items() if k != "$skiptoken")
    link = f"{base_url(request)}{path}?{query}&$skiptoken={encode_cursor(last)}"
    return link.replace("?&", "?")


def _render(
    kind: Kind, obj_id: str, props: dict[str, Any], select: tuple[str, ...] | None
) -> dict[str, Any]:
    names = sorted(PROPERTIES[kind]) if select is None else select
    body: dict[str, Any] = {"id": obj_id}
    for name in names:
        if name not in ("id", "members"):
            body[name] = props.get(name)
    return body


async def list_objects(request: Request) -> Response:
    """`GET /v1.0/{users|groups|...}` with `$top`, `$select` and `$skiptoken` paging."""
    kind = parse_delta_kind(request.path_params["kind"])
    if kind is None:
        return await not_found(request)
    collection = request.path_params.get("prefix", "") + kind
    return await _list(request, kind, f"/v1.0/{collection}", collection)


async def role_eligibility_schedules(request: Request) -> Response:
    """`GET /v1.0/roleManagement/directory/roleEligibilitySchedules`: PIM's eligible role
    assignments, a plain paged list (no delta function)."""
    path = "/v1.0/roleManagement/directory/roleEligibilitySchedules"
    return await _list(
        request,
        "roleEligibilitySchedules",
        path,
        "roleManagement/directory/roleEligibilitySchedules",
    )


async def _list(request: Request, kind: Kind, path: str, context: str) -> Response:
    admitted = admit(request, kind, "users-list" if kind == "users" else "list")
    if isinstance(admitted, Response):
        return admitted
    caller, headers = admitted
    sim, params = sim_of(request), request.query_params
    try:
        top, after = list_paging(params)
        select = parse_select(kind, params.get("$select"))
    except SelectError as exc:
        return graph_error(request, sim.clock, 400, "Request_BadRequest", str(exc), headers=headers)
    directory = caller.tenant.directory
    page: list[dict[str, Any]] = []
    last = ""
    ids, objects = directory.sorted_ids[kind], directory.sorted_objects[kind]
    for index in range(bisect.bisect_right(ids, after), len(ids)):
        obj = objects[index]
        if obj.lifecycle is not Lifecycle.LIVE:
            continue
        if len(page) == top:
            break
        page.append(_render(kind, obj.id, obj.props, select))
        last = obj.id
    else:
        last = ""
    selected = f"({','.join(select)})" if select else ""
    body: dict[str, Any] = {
        "@odata.context": f"{base_url(request)}/v1.0/$metadata#{context}{selected}"
    }
    if last:
        body["@odata.nextLink"] = next_link(request, path, last)
    body["value"] = page
    return GraphJSON(body, headers=headers)


async def get_object(request: Request) -> Response:
    """`GET /v1.0/{kind}/{id}`."""
    kind = parse_delta_kind(request.path_params["kind"])
    if kind is None:
        return await not_found(request)
    admitted = admit(request, kind, "get")
    if isinstance(admitted, Response):
        return admitted
    caller, headers = admitted
    sim, object_id = sim_of(request), request.path_params["function"]
    try:
        select = parse_select(kind, request.query_params.get("$select"))
    except SelectError as exc:
        return graph_error(request, sim.clock, 400, "Request_BadRequest", str(exc), headers=headers)
    obj = caller.tenant.directory.get(kind, object_id)
    if obj is None or obj.lifecycle is not Lifecycle.LIVE:
        return resource_not_found(request, object_id, headers)
    body = {
        "@odata.context": f"{base_url(request)}/v1.0/$metadata#{kind}/$entity",
        **_render(kind, obj.id, obj.props, select),
    }
    return GraphJSON(body, headers=headers)


async def not_found(request: Request) -> Response:
    """Graph's answer to a path it does not know."""
    segment = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    message = f"Resource not found for the segment '{segment}'."
    return graph_error(request, sim_of(request).clock, 400, "BadRequest", message)
