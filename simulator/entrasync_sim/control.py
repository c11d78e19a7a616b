"""Control API (no auth): read the directory's truth and mutate it while the server runs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from entrasync_sim.clock import isoformat
from entrasync_sim.directory import DirectoryError, DirectoryObject, TenantDirectory
from entrasync_sim.errors import control_error
from entrasync_sim.runtime import Simulator
from entrasync_sim.schema import Kind, parse_kind
from entrasync_sim.tenants import Tenant


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _sim(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


def render(directory: TenantDirectory, obj: DirectoryObject) -> dict[str, Any]:
    """An object as the control API shows it; groups carry their sorted member ids."""
    body: dict[str, Any] = {"id": obj.id, **obj.props}
    if obj.kind == "groups":
        body["members"] = sorted(directory.members.get(obj.id, {}))
    return body


def _tenant(request: Request) -> Tenant:
    tenant = _sim(request).tenants.resolve(request.path_params["tid"])
    if tenant is None:
        raise _BadRequest(404, "tenantNotFound", f"Tenant {request.path_params['tid']} not found.")
    return tenant


def _kind(request: Request) -> Kind:
    kind = parse_kind(request.path_params.get("kind", "groups"))
    if kind is None:
        raise _BadRequest(404, "kindNotFound", f"Unknown kind {request.path_params['kind']}.")
    return kind


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise _BadRequest(400, "badRequest", "Body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _BadRequest(400, "badRequest", "Body must be a JSON object.")
    return body


async def tenants(request: Request) -> Response:
    """All tenants, as in the ready line."""
    return JSONResponse([t.describe() for t in _sim(request).tenants])


async def state(request: Request) -> Response:
    """Live objects of every kind with all their properties."""
    directory = _tenant(request).directory
    kinds: tuple[Kind, ...] = ("users", "groups", "devices")
    return JSONResponse(
        {kind: [render(directory, obj) for obj in directory.live(kind)] for kind in kinds}
    )


async def create(request: Request) -> Response:
    """Create an object; `id` in the body is used when given."""
    directory, kind = _tenant(request).directory, _kind(request)
    props = await _json_object(request)
    object_id = props.pop("id", None)
    if object_id is not None and not isinstance(object_id, str):
        raise _BadRequest(400, "badRequest", "id must be a string.")
    if kind != "devices":
        props.setdefault("createdDateTime", isoformat(_sim(request).clock.now()))
    obj = directory.create(kind, props, object_id)
    return JSONResponse(render(directory, obj), status_code=201)


async def update(request: Request) -> Response:
    """Merge properties into a live object; null stores null."""
    directory, kind = _tenant(request).directory, _kind(request)
    props = await _json_object(request)
    props.pop("id", None)
    obj = directory.update(kind, request.path_params["id"], props)
    return JSONResponse(render(directory, obj))


async def delete(request: Request) -> Response:
    """Soft delete by default (users, groups); `?hard=true` purges."""
    directory, kind = _tenant(request).directory, _kind(request)
    hard_param = request.query_params.get("hard", "false").lower()
    if hard_param not in ("true", "false"):
        raise _BadRequest(400, "badRequest", "hard must be true or false.")
    directory.delete(kind, request.path_params["id"], hard=hard_param == "true")
    return Response(status_code=204)


async def restore(request: Request) -> Response:
    """Restore a soft-deleted user or group."""
    directory, kind = _tenant(request).directory, _kind(request)
    obj = directory.restore(kind, request.path_params["id"])
    return JSONResponse(render(directory, obj))


async def members(request: Request) -> Response:
    """Add and remove group members: body `{"add": [ids], "remove": [ids]}`."""
    directory = _tenant(request).directory
    body = await _json_object(request)
    lists = [body.get("add", []), body.get("remove", [])]
    if set(body) - {"add", "remove"} or not all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in lists
    ):
        raise _BadRequest(400, "badRequest", "Body must be {'add': [ids], 'remove': [ids]}.")
    directory.change_members(request.path_params["id"], lists[0], lists[1])
    group = directory.get("groups", request.path_params["id"])
    assert group is not None
    return JSONResponse(render(directory, group))


Endpoint = Callable[[Request], Awaitable[Response]]


async def unknown(request: Request) -> Response:
    """Any other control path."""
    raise _BadRequest(404, "notFound", f"No control endpoint at {request.url.path}.")


def _guarded(endpoint: Endpoint) -> Endpoint:
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except (_BadRequest, DirectoryError) as exc:
            return control_error(exc.status, exc.code, exc.message)

    return run


_PREFIX = "/_control/tenants"

ROUTES = [
    Route("/_control/tenants", _guarded(tenants)),
    Route(_PREFIX + "/{tid}/state", _guarded(state)),
    Route(_PREFIX + "/{tid}/groups/{id}/members", _guarded(members), methods=["POST"]),
    Route(_PREFIX + "/{tid}/{kind}/{id}/restore", _guarded(restore), methods=["POST"]),
    Route(_PREFIX + "/{tid}/{kind}", _guarded(create), methods=["POST"]),
    Route(_PREFIX + "/{tid}/{kind}/{id}", _guarded(update), methods=["PATCH"]),
    Route(_PREFIX + "/{tid}/{kind}/{id}", _guarded(delete), methods=["DELETE"]),
    Route("/_control/{rest:path}", _guarded(unknown), methods=["GET", "POST", "PATCH", "DELETE"]),
]
