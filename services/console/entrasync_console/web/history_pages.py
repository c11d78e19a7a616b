"""The Sync History table of a tenant page, and the read-only pages of deleted tenants.

"Show only runs with changes or errors" is on by default and remembered: the page's script
keeps the last choice in a cookie, and an explicit `changes=0|1` in the URL wins over it.
"""

from __future__ import annotations

from typing import Any

from entrasync_shared.catalog import HistoryApi
from entrasync_shared.messages import HISTORY_PAGE_SIZES, DeletedTenantsQuery, HistoryRunsQuery
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from entrasync_console.core import views
from entrasync_console.core.errors import Problem
from entrasync_console.core.privileged import PRIVILEGED_SEARCH
from entrasync_console.core.security import console
from entrasync_console.web.rendering import form_errors, render, session_or_login

CHANGES_COOKIE = "entrasync_history_changes"
router = APIRouter(include_in_schema=False)


def history_params(request: Request) -> tuple[int, int, str, bool]:
    params = request.query_params
    try:
        page = max(1, min(int(params.get("page", "1")), 1_000_000))
    except ValueError:
        page = 1
    try:
        size = int(params.get("page_size", "50"))
    except ValueError:
        size = 50
    size = size if size in HISTORY_PAGE_SIZES else 50
    return page, size, params.get("search", ""), changes_only(request)


def privileged_only(request: Request) -> bool:
    """The "Privileged only" toggle: off unless the URL's last `privileged` value is 1."""
    asked = request.query_params.getlist("privileged")
    return bool(asked) and asked[-1] == "1"


def changes_only(request: Request) -> bool:
    """The toggle: the URL's last `changes` value, else the remembered one, else on."""
    asked = request.query_params.getlist("changes")
    chosen = asked[-1] if asked else request.cookies.get(CHANGES_COOKIE, "1")
    return chosen != "0"


async def history_context(
    request: Request, tenant_id: str, path: str, name: str, *, tab: bool, csv_url: str
) -> dict[str, Any]:
    """What `_history.html` shows for one tenant (current or deleted)."""
    page, size, search, only = history_params(request)
    privileged = privileged_only(request)
    context: dict[str, Any] = {
        "page": page,
        "page_size": size,
        "page_sizes": HISTORY_PAGE_SIZES,
        "search": "" if privileged else search,
        "privileged_only": privileged,
        "privileged_search": PRIVILEGED_SEARCH,
        "changes_only": only,
        "history_path": path,
        "history_tab": tab,
        "history_name": name,
        "csv_url": csv_url,
    }
    try:
        query = HistoryRunsQuery(
            tenant_id=tenant_id,
            page=page,
            page_size=size,
            search=PRIVILEGED_SEARCH if privileged else search,
            changes_only=only,
        )
    except ValidationError as err:
        errors, _ = form_errors(err)
        empty = {"groups": [], "total": 0, "last_page": 1, "search_error": errors}
        return {**context, **empty}
    result = await console(request).services.call(HistoryApi.runs_list, query)
    last_page = max(1, -(-result.total // size))
    groups = views.run_groups(result.items)
    return {**context, "groups": groups, "total": result.total, "last_page": last_page}


async def tenant_history(request: Request, tenant_id: str, name: str) -> dict[str, Any]:
    return await history_context(
        request,
        tenant_id,
        f"/tenants/{tenant_id}",
        name,
        tab=True,
        csv_url=f"/api/v1/tenants/{tenant_id}/history.csv",
    )


async def deleted_or_missing(request: Request, tenant_id: str) -> Response:
    """A tenant page that is gone: to its kept history when it was deleted, else 404."""
    query = DeletedTenantsQuery(tenant_id=tenant_id[:64])
    found = await console(request).services.call(HistoryApi.tenants_deleted, query)
    if not found.items:
        raise Problem(404, "not_found", f"There is no tenant {tenant_id!r}.")
    return RedirectResponse(f"/deleted-tenants/{found.items[0].tenant_id}", status_code=303)


@router.get("/deleted-tenants", response_class=HTMLResponse)
async def deleted_tenants(request: Request) -> Response:
    session_or_login(request)
    state = console(request)
    found = await state.services.call(HistoryApi.tenants_deleted, DeletedTenantsQuery())
    return await render(
        request, state, "deleted_tenants.html", 200, deleted=found.items, active="deleted"
    )


@router.get("/deleted-tenants/{tenant_id}", response_class=HTMLResponse)
async def deleted_tenant(request: Request, tenant_id: str) -> Response:
    session_or_login(request)
    state = console(request)
    deleted = await views.deleted_tenant(state.services, tenant_id)
    history = await history_context(
        request,
        deleted.tenant_id,
        f"/deleted-tenants/{deleted.tenant_id}",
        deleted.name,
        tab=False,
        csv_url=f"/api/v1/deleted-tenants/{deleted.tenant_id}/history.csv",
    )
    return await render(
        request, state, "deleted_tenant.html", 200, deleted=deleted, active="deleted", **history
    )
