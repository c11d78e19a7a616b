"""Microsoft Graph delta queries for users, groups and devices."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from entrasync_sim import graph_subscriptions as subscriptions
from entrasync_sim.delta import PagingLimits, SelectError, build_page, parse_select
from entrasync_sim.delta_text import (
    array_pieces,
    encode,
    page_texts,
    prerender,
    prerender_key,
)
from entrasync_sim.errors import graph_error
from entrasync_sim.graph_common import (
    GRAPH_MEDIA_TYPE,
    GraphJSON,
    admit,
    base_url,
    page_bytes,
    sim_of,
)
from entrasync_sim.graph_members import group_members
from entrasync_sim.graph_reads import (
    domains,
    get_object,
    list_objects,
    not_found,
    organization,
    role_eligibility_schedules,
)
from entrasync_sim.runtime import Simulator
from entrasync_sim.schema import DELTA_KINDS, Kind, parse_delta_kind
from entrasync_sim.tenants import Tenant
from entrasync_sim.tokens import RoundState, TokenError, decode_token, encode_token

Endpoint = Callable[[Request], Awaitable[Response]]
# Graph takes the short name and the fully qualified one (delta-query-overview.md: "`/delta`
# is a shortcut for the fully qualified name `/microsoft.graph.delta`"), with or without "()".
DELTA_FUNCTIONS = frozenset(
    {"delta", "delta()", "microsoft.graph.delta", "microsoft.graph.delta()"}
)
# Every spelling of each delta path, with its path parameters. In v1.0 administrative units
# live under `directory/` (msgraph-sdk's v1.0 `directory/administrativeUnits/delta()`); the
# top-level path is the one administrativeunit-delta.md names: both are served.
DELTA_PATHS = {
    f"/v1.0/{kind}/{function}": {"kind": kind, "function": function}
    for kind in DELTA_KINDS
    for function in DELTA_FUNCTIONS
} | {
    f"/v1.0/directory/administrativeUnits/{function}": {
        "kind": "administrativeUnits",
        "function": function,
        "prefix": "directory/",
    }
    for function in DELTA_FUNCTIONS
}
_MAX_PAGE_SIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)
_MINIMAL = re.compile(r"return\s*=\s*minimal", re.IGNORECASE)


class _Refusal(Exception):
    """A delta request Graph answers with an error (status, code, message, headers)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def _preferences(request: Request, default_size: int) -> tuple[int, bool, list[str]]:
    """(page size, return=minimal, Preference-Applied parts) from the `Prefer` header.

    A delta response always applies `odata.track-changes` (OData's change-tracking preference,
    which Graph's delta responses echo: planneruser-list-delta.md's sample response).
    """
    prefer = request.headers.get("prefer", "")
    applied = ["odata.track-changes"]
    size = default_size
    match = _MAX_PAGE_SIZE.search(prefer)
    if match and 0 < int(match.group(1)) < default_size:
        size = int(match.group(1))
        applied.append(f"odata.maxpagesize={size}")
    minimal = bool(_MINIMAL.search(prefer))
    if minimal:
        applied.append("return=minimal")
    return size, minimal, applied


def _initial_query(request: Request, kind: Kind, select: tuple[str, ...] | None) -> str:
    url = f"{base_url(request)}/v1.0/{_collection(request, kind)}/delta"
    return f"{url}?$select={','.join(select)}" if select else url


def _from_token(
    request: Request, params: dict[str, str], tenant: Tenant, kind: Kind, now: int
) -> RoundState | None:
    """The round a skip/delta token continues; None when it belongs to another resource."""
    skip, delta = params.get("$skiptoken"), params.get("$deltatoken")
    if skip is not None and delta is not None:
        raise TokenError("Badly formed token.")
    state = decode_token(skip if skip is not None else delta or "", tenant.tenant_id)
    if delta is not None and (state.since is None or state.cursor):
        raise TokenError("Badly formed token.")
    if state.kind != kind:
        return None
    if state.generation < tenant.generations[kind]:
        raise _Refusal(
            410,
            "resyncRequired",
            "The delta state was reset; restart the sync from the URL in the Location header.",
            {"Location": _initial_query(request, kind, state.select)},
        )
    if now - state.issued_at > sim_of(request).settings.delta_link_lifetime:
        raise _Refusal(
            400,
            "syncStateNotFound",
            "The sync state was not found or has expired. Restart with a new delta query.",
        )
    if delta is not None:
        upto = _visible_seq(sim_of(request), tenant, state.since)
        return RoundState(
            kind,
            tenant.tenant_id,
            state.select,
            state.since,
            upto,
            issued_at=now,
            generation=state.generation,
            replay_since=state.replay_since,
        )
    return state


async def delta(request: Request) -> Response:
    """`GET /v1.0/{kind}/delta` in any of Graph's spellings."""
    kind = parse_delta_kind(request.path_params["kind"])
    function = request.path_params["function"]
    if kind is None or function not in DELTA_FUNCTIONS:
        return await get_object(request)
    admitted = admit(request, kind, "delta")
    if isinstance(admitted, Response):
        return admitted
    caller, headers = admitted
    sim, tenant = sim_of(request), caller.tenant
    page_size, minimal, applied = _preferences(request, sim.settings.page_size)
    limits = PagingLimits(
        page_size, sim.settings.member_slice, max(1000, 10 * page_size), minimal=minimal
    )
    # Graph's query options are case-insensitive (`$deltaToken=latest` in
    # delta-query-overview.md, `$deltatoken` in its links).
    params = {name.lower(): value for name, value in request.query_params.items()}
    now = sim.clock.timestamp()
    seq = tenant.directory.seq
    entries: list[dict[str, Any]] = []
    pieces: list[str] | None = None
    next_state: RoundState | None = None
    try:
        select = parse_select(kind, params.get("$select"))
        fresh = RoundState(
            kind,
            tenant.tenant_id,
            select,
            seq,
            seq,
            issued_at=now,
            generation=tenant.generations[kind],
        )
        if params.get("$deltatoken", "").lower() == "latest":
            state = fresh
        elif "$skiptoken" in params or "$deltatoken" in params:
            # A link of another resource is accepted with an empty result (observed).
            state = _from_token(request, params, tenant, kind, now) or fresh
            if state is not fresh:
                pieces, next_state = _page(tenant, state, limits)
        else:
            state = RoundState(
                kind,
                tenant.tenant_id,
                select,
                None,
                seq,
                issued_at=now,
                generation=tenant.generations[kind],
            )
            pieces, next_state = _page(tenant, state, limits)
            _render_ahead(sim, tenant, state, limits)
    except (TokenError, SelectError) as exc:
        return graph_error(request, sim.clock, 400, "badRequest", str(exc), headers=headers)
    except _Refusal as refusal:
        all_headers = {**headers, **(refusal.headers or {})}
        return graph_error(
            request, sim.clock, refusal.status, refusal.code, refusal.message, headers=all_headers
        )
    base = base_url(request)
    collection = _collection(request, kind)
    link_base = f"{base}/v1.0/{collection}/delta"
    body: dict[str, Any] = {
        "@odata.context": _context(base, collection, state, "$select" in params)
    }
    if next_state is not None:
        token = encode_token(_stamped(next_state, now))
        body["@odata.nextLink"] = f"{link_base}?$skiptoken={token}"
    else:
        token = encode_token(state.next_round(issued_at=now))
        body["@odata.deltaLink"] = f"{link_base}?$deltatoken={token}"
    if applied:
        headers["Preference-Applied"] = ", ".join(applied)
    if pieces is not None:
        return Response(page_bytes(body, pieces), headers=headers, media_type=GRAPH_MEDIA_TYPE)
    body["value"] = entries
    return GraphJSON(body, headers=headers)


async def delta_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """`delta` as a bare ASGI app, for a path in `DELTA_PATHS` (the app's fast path)."""
    scope["path_params"] = dict(DELTA_PATHS[scope["path"]])
    response = await delta(Request(scope, receive))
    await response(scope, receive, send)


def _collection(request: Request, kind: Kind) -> str:
    """The collection's path as the client named it (`directory/administrativeUnits`)."""
    return f"{request.path_params.get('prefix', '')}{kind}"


def _context(base: str, kind: str, state: RoundState, first: bool) -> str:
    """`@odata.context`: the select list (without the `members` relationship) only on a
    round's first page, as in delta-query-users.md and delta-query-groups.md."""
    names = [name for name in state.select or () if name != "members"] if first else []
    selected = f"({','.join(names)})" if names else ""
    return f"{base}/v1.0/$metadata#{kind}{selected}"


def _visible_seq(sim: Simulator, tenant: Tenant, since: int | None) -> int:
    """Where a round from a deltaLink ends: now, or as long ago as the replication lag."""
    seq = tenant.directory.seq
    lag = sim.lags.get(tenant.tenant_id)
    if lag is None:
        return seq
    return max(lag.visible(seq, sim.clock.seconds()), since or 0)


def _render_ahead(sim: Simulator, tenant: Tenant, state: RoundState, limits: PagingLimits) -> None:
    """On a full round's first page, start rendering the rest in the background (once per
    tenant, resource, `$select` and directory state)."""
    if tenant.quirks.duplicates or tenant.quirks.empty_pages:
        return
    key = (tenant.tenant_id, *prerender_key(state, limits))
    running = sim.prerendering.get(key)
    if running is not None and (not running[1].done() or running[0] == tenant.directory.seq):
        return
    task = asyncio.get_running_loop().create_task(
        prerender(tenant.directory, state, limits, tenant.quirks)
    )
    sim.prerendering[key] = (tenant.directory.seq, task)


def _page(
    tenant: Tenant, state: RoundState, limits: PagingLimits
) -> tuple[list[str], RoundState | None]:
    """The page at `state` as pieces of its `value` array (see `page_texts`), from rendered
    texts when the page is plain."""
    fast = page_texts(tenant.directory, state, limits, tenant.quirks)
    if fast is not None:
        return fast
    entries, next_state = build_page(tenant.directory, state, limits, tenant.quirks)
    return array_pieces([encode(entry) for entry in entries]), next_state


def _stamped(state: RoundState, now: int) -> RoundState:
    return replace(state, issued_at=now)


def _under_directory(endpoint: Endpoint) -> Endpoint:
    """`/v1.0/directory/administrativeUnits...`: the unit routes, with links kept under
    `directory/`; any other collection there is unknown."""

    async def run(request: Request) -> Response:
        if request.path_params.get("kind") != "administrativeUnits":
            return await not_found(request)
        request.path_params["prefix"] = "directory/"
        return await endpoint(request)

    return run


ROUTES = [
    Route("/v1.0/organization", organization),
    Route("/v1.0/domains", domains),
    Route("/v1.0/subscriptions", subscriptions.create, methods=["POST"]),
    Route("/v1.0/subscriptions", subscriptions.list_all),
    Route("/v1.0/subscriptions/{id}", subscriptions.one, methods=["GET", "PATCH", "DELETE"]),
    Route("/v1.0/subscriptions/{id}/reauthorize", subscriptions.reauthorize, methods=["POST"]),
    Route("/v1.0/{kind}/{id}/members", group_members),
    Route("/v1.0/directory/{kind}/{id}/members", _under_directory(group_members)),
    Route("/v1.0/directory/{kind}", _under_directory(list_objects)),
    Route("/v1.0/directory/{kind}/{function}", _under_directory(delta)),
    Route("/v1.0/roleManagement/directory/roleEligibilitySchedules", role_eligibility_schedules),
    Route("/v1.0/{kind}", list_objects),
    Route("/v1.0/{kind}/{function}", delta),
    Route("/v1.0/{rest:path}", not_found),
]
