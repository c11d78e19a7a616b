"""`GET /v1.0/{groups|directoryRoles|administrativeUnits}/{id}/members`: direct, live members
as directory objects.

Like Graph: default page size 100, `$top` up to 999, `$select` over the union of the member
types' properties (a property a member's type lacks is left out), each entry typed with
`@odata.type`, soft-deleted members hidden, an unknown or deleted group → 404.
"""

from __future__ import annotations

import bisect
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from entrasync_sim.delta import SelectError
from entrasync_sim.directory import Lifecycle
from entrasync_sim.errors import graph_error
from entrasync_sim.graph_common import GraphJSON, admit, base_url, sim_of
from entrasync_sim.graph_reads import list_paging, next_link, not_found, resource_not_found
from entrasync_sim.schema import MEMBER_KINDS, ODATA_TYPES, PROPERTIES, parse_kind

_SELECTABLE = {name.lower(): name for kind in PROPERTIES for name in PROPERTIES[kind]}


def _select(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    chosen = set()
    for part in raw.split(","):
        name = part.strip()
        if not name or name.lower() == "id":
            continue
        if name.lower() not in _SELECTABLE:
            raise SelectError(
                f"Could not find a property named '{name}' on type "
                "'microsoft.graph.directoryObject'."
            )
        chosen.add(_SELECTABLE[name.lower()])
    return tuple(sorted(chosen))


async def group_members(request: Request) -> Response:
    """One page of a group's (role's, unit's) members."""
    container = parse_kind(request.path_params["kind"])
    if container is None or container not in MEMBER_KINDS:
        return await not_found(request)
    admitted = admit(request, container, "group-members" if container == "groups" else "get")
    if isinstance(admitted, Response):
        return admitted
    caller, headers = admitted
    sim, params = sim_of(request), request.query_params
    try:
        top, after = list_paging(params)
        select = _select(params.get("$select"))
    except SelectError as exc:
        return graph_error(request, sim.clock, 400, "Request_BadRequest", str(exc), headers=headers)
    directory = caller.tenant.directory
    group_id = request.path_params["id"]
    group = directory.get(container, group_id)
    if group is None or group.lifecycle is not Lifecycle.LIVE:
        return resource_not_found(request, group_id, headers)
    edges = directory.members.get(group.id, {})
    member_ids = sorted(edges)
    page: list[dict[str, Any]] = []
    last = ""
    for index in range(bisect.bisect_right(member_ids, after), len(member_ids)):
        member_id = member_ids[index]
        kind = edges[member_id]
        obj = directory.get(kind, member_id)
        if obj is None or obj.lifecycle is not Lifecycle.LIVE:
            continue
        if len(page) == top:
            break
        names = sorted(PROPERTIES[kind]) if select is None else select
        entry: dict[str, Any] = {"@odata.type": ODATA_TYPES[kind], "id": obj.id}
        entry.update((n, obj.props.get(n)) for n in names if n in PROPERTIES[kind])
        page.append(entry)
        last = obj.id
    else:
        last = ""
    body: dict[str, Any] = {
        "@odata.context": f"{base_url(request)}/v1.0/$metadata#directoryObjects"
    }
    if last:
        prefix = request.path_params.get("prefix", "")
        path = f"/v1.0/{prefix}{container}/{group.id}/members"
        body["@odata.nextLink"] = next_link(request, path, last)
    body["value"] = page
    return GraphJSON(body, headers=headers)
