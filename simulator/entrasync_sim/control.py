"""Control API (no auth), directory part: read the truth and mutate it while the server runs."""

from __future__ import annotations

import asyncio
import random
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from entrasync_sim import control_notifications as notify
from entrasync_sim import control_ops as ops
from entrasync_sim.clock import isoformat
from entrasync_sim.control_common import (
    BadRequest,
    Endpoint,
    guarded,
    json_body,
    sim_of,
    tenant_of,
)
from entrasync_sim.delta_text import render_memberships
from entrasync_sim.directory import DirectoryObject, TenantDirectory
from entrasync_sim.lag import ReplicationLag
from entrasync_sim.mutations import BatchError, apply_batch, kind_of
from entrasync_sim.runtime import Simulator
from entrasync_sim.schema import KINDS, MEMBER_KINDS, ODATA_TYPES, PROPERTIES, Kind
from entrasync_sim.seed import EXTRA_COUNTS, ExtraCounts, seed_tenant
from entrasync_sim.tenants import Tenant


def render(directory: TenantDirectory, obj: DirectoryObject) -> dict[str, Any]:
    """An object as the control API shows it; groups, directory roles and administrative units
    carry their live members' sorted ids, and in `memberTypes` each one's type as entrasync names
    it (`servicePrincipal`, `orgContact`...)."""
    body: dict[str, Any] = {"id": obj.id, **obj.props}
    if obj.kind in MEMBER_KINDS:
        body["members"] = directory.live_members(obj.id)
        edges = directory.members.get(obj.id, {})
        body["memberTypes"] = {m: MEMBER_TYPE_NAMES[edges[m]] for m in body["members"]}
    return body


# Each kind's member type, as `@odata.type` says it ("#microsoft.graph.orgContact" → orgContact).
MEMBER_TYPE_NAMES: dict[Kind, str] = {
    kind: odata.rsplit(".", 1)[1] for kind, odata in ODATA_TYPES.items()
}


def _kind(value: str) -> Kind:
    kind = kind_of(value)
    if kind is None:
        raise BadRequest(404, "kindNotFound", f"Unknown kind {value}.")
    return kind


async def tenants(request: Request) -> Response:
    """GET: all tenants, as in the ready line; POST: add a freshly seeded tenant."""
    simulator = sim_of(request)
    if request.method == "POST":
        counts = _seed_counts(await json_body(request))
        tenant = await asyncio.to_thread(_new_tenant, simulator, counts)
        simulator.add_tenant(tenant)
        return JSONResponse(tenant.describe(), status_code=201)
    return JSONResponse([t.describe() for t in simulator.tenants])


_SEED_DEFAULTS = {"users": 100, "groups": 10, "devices": 20}


def _seed_counts(body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - set(_SEED_DEFAULTS) - set(EXTRA_COUNTS)
    if unknown:
        raise BadRequest(400, "badRequest", f"Unknown field {sorted(unknown)[0]}.")
    counts = {**_SEED_DEFAULTS, **body}
    for name, value in counts.items():
        if name in EXTRA_COUNTS and value is None:
            continue  # scaled with the users
        # bool is an int subclass: refuse it explicitly.
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100_000:
            raise BadRequest(400, "badRequest", f"{name} must be an integer from 0 to 100000.")
    return counts


def _new_tenant(simulator: Simulator, counts: dict[str, int]) -> Tenant:
    """Seed a tenant off the event loop (its RSA key and directory take a moment); it is
    registered on the loop, so requests never see it half-built."""
    registry = simulator.tenants
    tenant = seed_tenant(
        random.Random(secrets.randbits(64)),
        len(registry),
        users=counts["users"],
        groups=counts["groups"],
        devices=counts["devices"],
        taken=lambda domain: registry.resolve(domain) is not None,
        extra=ExtraCounts(**{name: counts.get(name) for name in EXTRA_COUNTS}),
    )
    # Added tenants share the process's delta quirks (`--duplicates` and friends).
    first = next(iter(registry), None)
    if first is not None:
        tenant.quirks = first.quirks
    render_memberships(tenant.directory, simulator.settings.member_slice)
    return tenant


async def truth(request: Request) -> Response:
    """Live objects of one type with all their properties (groups: live member ids)."""
    directory = tenant_of(request).directory
    kind = _kind(request.query_params.get("type", ""))
    return JSONResponse([render(directory, obj) for obj in directory.live(kind)])


async def state(request: Request) -> Response:
    """Live objects of every kind with all their properties."""
    directory = tenant_of(request).directory
    return JSONResponse(
        {kind: [render(directory, obj) for obj in directory.live(kind)] for kind in KINDS}
    )


async def mutations(request: Request) -> Response:
    """A batch of operations, all checked first, then applied in order."""
    directory = tenant_of(request).directory
    body = await json_body(request, object)
    operations = body.get("operations") if isinstance(body, dict) else body
    try:
        ids = apply_batch(directory, operations, isoformat(sim_of(request).clock.now()))
    except BatchError as exc:
        error = {"code": exc.code, "message": f"operation {exc.index}: {exc.message}"}
        return JSONResponse({"error": {**error, "index": exc.index}}, status_code=exc.status)
    return JSONResponse({"ids": ids})


async def create(request: Request) -> Response:
    """Create an object; `id` in the body is used when given."""
    directory, kind = tenant_of(request).directory, _kind(request.path_params["kind"])
    props = await json_body(request)
    object_id = props.pop("id", None)
    if object_id is not None and not isinstance(object_id, str):
        raise BadRequest(400, "badRequest", "id must be a string.")
    if "createdDateTime" in PROPERTIES[kind]:
        props.setdefault("createdDateTime", isoformat(sim_of(request).clock.now()))
    obj = directory.create(kind, props, object_id)
    return JSONResponse(render(directory, obj), status_code=201)


async def update(request: Request) -> Response:
    """Merge properties into a live object; null stores null."""
    directory, kind = tenant_of(request).directory, _kind(request.path_params["kind"])
    props = await json_body(request)
    props.pop("id", None)
    obj = directory.update(kind, request.path_params["id"], props)
    return JSONResponse(render(directory, obj))


async def delete(request: Request) -> Response:
    """Soft delete by default (users, groups); `?hard=true` purges."""
    directory, kind = tenant_of(request).directory, _kind(request.path_params["kind"])
    hard_param = request.query_params.get("hard", "false").lower()
    if hard_param not in ("true", "false"):
        raise BadRequest(400, "badRequest", "hard must be true or false.")
    directory.delete(kind, request.path_params["id"], hard=hard_param == "true")
    return Response(status_code=204)


async def restore(request: Request) -> Response:
    """Restore a soft-deleted user or group."""
    directory, kind = tenant_of(request).directory, _kind(request.path_params["kind"])
    obj = directory.restore(kind, request.path_params["id"])
    return JSONResponse(render(directory, obj))


async def members(request: Request) -> Response:
    """Add and remove members of a group, directory role or administrative unit: body
    `{"add": [ids], "remove": [ids]}`."""
    directory = tenant_of(request).directory
    body = await json_body(request)
    lists = [body.get("add", []), body.get("remove", [])]
    if set(body) - {"add", "remove"} or not all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in lists
    ):
        raise BadRequest(400, "badRequest", "Body must be {'add': [ids], 'remove': [ids]}.")
    _kind(request.path_params["kind"])
    directory.change_members(request.path_params["id"], lists[0], lists[1])
    return JSONResponse(render(directory, directory.require_container(request.path_params["id"])))


def lagging(endpoint: Endpoint) -> Endpoint:
    """Stamp a mutation's time for the tenant's replication lag (when it has one)."""

    async def run(request: Request) -> Response:
        tenant = tenant_of(request)
        before = tenant.directory.seq
        response = await endpoint(request)
        lag = sim_of(request).lags.get(tenant.tenant_id)
        if lag is not None and tenant.directory.seq != before:
            lag.record(sim_of(request).clock.seconds(), before)
        return response

    return run


async def replication_lag(request: Request) -> Response:
    """GET or PUT `{"seconds": s}`: how long a change takes to reach delta rounds (0: at once)."""
    tenant, simulator = tenant_of(request), sim_of(request)
    if request.method == "PUT":
        body = await json_body(request)
        seconds = body.get("seconds")
        if set(body) != {"seconds"} or isinstance(seconds, bool):
            raise BadRequest(400, "badRequest", "Body must be {'seconds': number}.")
        if not isinstance(seconds, int | float) or not 0 <= seconds <= 86_400:
            raise BadRequest(400, "badRequest", "seconds must be between 0 and 86400.")
        simulator.lags[tenant.tenant_id] = ReplicationLag(float(seconds))
    lag = simulator.lags.get(tenant.tenant_id) or ReplicationLag()
    return JSONResponse(lag.describe())


async def unknown(request: Request) -> Response:
    """Any other control path."""
    raise BadRequest(404, "notFound", f"No control endpoint at {request.url.path}.")


_PREFIX = "/_control/tenants"


ROUTES = [
    Route("/_control/tenants", guarded(tenants), methods=["GET", "POST"]),
    Route("/_control/faults", guarded(ops.faults), methods=["GET", "POST", "DELETE"]),
    Route("/_control/faults/{id}", guarded(ops.fault), methods=["DELETE"]),
    Route("/_control/clock", guarded(ops.clock), methods=["GET", "POST"]),
    Route("/_control/settings", guarded(ops.settings), methods=["GET", "PATCH"]),
    Route("/_control/throttling", guarded(ops.throttling), methods=["GET", "PUT"]),
    Route("/_control/issuers", guarded(ops.issuers), methods=["GET", "PUT"]),
    Route(_PREFIX + "/{tid}/truth", guarded(truth)),
    Route(_PREFIX + "/{tid}/state", guarded(state)),
    Route(_PREFIX + "/{tid}/mutations", guarded(lagging(mutations)), methods=["POST"]),
    Route(_PREFIX + "/{tid}/lag", guarded(replication_lag), methods=["GET", "PUT"]),
    Route(_PREFIX + "/{tid}/reset", guarded(ops.reset), methods=["POST"]),
    Route(_PREFIX + "/{tid}/quirks", guarded(ops.quirks), methods=["GET", "PUT"]),
    Route(_PREFIX + "/{tid}/apps", guarded(ops.apps), methods=["GET", "POST"]),
    Route(_PREFIX + "/{tid}/apps/{cid}", guarded(ops.app), methods=["PATCH"]),
    Route(_PREFIX + "/{tid}/subscriptions", guarded(ops.subscriptions)),
    Route(
        _PREFIX + "/{tid}/subscriptions/{sid}/lifecycle",
        guarded(ops.lifecycle),
        methods=["POST"],
    ),
    Route(_PREFIX + "/{tid}/notifications", guarded(ops.notifications)),
    Route(_PREFIX + "/{tid}/delivery", guarded(notify.delivery), methods=["GET", "PUT"]),
    Route("/_control/subscription-quotas", guarded(notify.quotas), methods=["GET", "PUT"]),
    Route(
        "/_control/notification-throttling",
        guarded(notify.slow_endpoints),
        methods=["GET", "PUT"],
    ),
    Route(_PREFIX + "/{tid}/{kind}/{id}/members", guarded(lagging(members)), methods=["POST"]),
    Route(_PREFIX + "/{tid}/{kind}/{id}/restore", guarded(lagging(restore)), methods=["POST"]),
    Route(_PREFIX + "/{tid}/{kind}", guarded(lagging(create)), methods=["POST"]),
    Route(_PREFIX + "/{tid}/{kind}/{id}", guarded(lagging(update)), methods=["PATCH"]),
    Route(_PREFIX + "/{tid}/{kind}/{id}", guarded(lagging(delete)), methods=["DELETE"]),
    Route(
        "/_control/{rest:path}",
        guarded(unknown),
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    ),
]
