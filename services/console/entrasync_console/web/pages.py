"""The Integrations screens of the seed page: tenant table, Add New Integration, tenant details.

Forms post here (with the session's CSRF token) and redirect with a toast; Test Connection,
Sync now and the live status call the REST API from the page's script.
"""

from __future__ import annotations

from typing import Any

from entrasync_shared.catalog import ConfigApi, SchedulerApi
from entrasync_shared.messages import (
    HISTORY_PAGE_SIZES,
    SubscriptionRecord,
    Tenant,
    TenantCreate,
    TenantDelete,
    TenantRef,
    TenantUpdate,
)
from entrasync_shared.natsutil import ApiCallError
from entrasync_shared.subjects import OBJECT_TYPES, ObjectType
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from entrasync_console.core import views
from entrasync_console.core.errors import Problem
from entrasync_console.core.object_types import TYPE_CHOICES
from entrasync_console.core.security import console
from entrasync_console.web import conflicts, history_pages, privileged_pages
from entrasync_console.web.rendering import (
    check_form_csrf,
    form_errors,
    missing_fields,
    redirect,
    render,
    session_or_login,
    stale_version,
)

ENTRA_ID_SYNC = "entra-id-sync"
REQUIRED_TENANT_FIELDS = {
    "tenant": "Enter the tenant: a verified domain or the tenant ID.",
    "profile_id": "Select a credential profile.",
}
router = APIRouter(include_in_schema=False)


def checked(form: Any, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def chosen_types(form: Any) -> tuple[ObjectType, ...] | None:
    """The ticked object types in sync order; None for a form without the choice (a tab opened
    before the console offered it), which leaves the tenant's types as they are."""
    if "base_object_types" not in form:
        return None
    return tuple(t for t in OBJECT_TYPES if checked(form, f"object_type_{t}"))


@router.get("/", include_in_schema=False)
async def home(request: Request) -> Response:
    session_or_login(request)
    return RedirectResponse("/integrations", status_code=303)


async def integrations_page(
    request: Request,
    adding: bool,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    toasts: list[dict[str, str]] | None = None,
) -> Response:
    state = console(request)
    session_or_login(request)
    rows = await views.tenant_views(state.services, await views.tenants_by_name(state.services))
    profiles = await views.profiles_by_name(state.services)
    defaults = {"type": ENTRA_ID_SYNC, "cloud": "global", "enabled": True, "tenant": ""}
    return await render(
        request,
        state,
        "integrations.html",
        status_code,
        rows=rows,
        profiles=profiles,
        clouds=state.settings.cloud_names(),
        adding=adding,
        values={**defaults, **(values or {})},
        errors=errors or {},
        toasts=toasts or [],
    )


@router.get("/integrations", response_class=HTMLResponse)
async def integrations(request: Request) -> Response:
    return await integrations_page(request, adding=False)


@router.get("/integrations/new", response_class=HTMLResponse)
async def new_integration(request: Request) -> Response:
    return await integrations_page(request, adding=True)


@router.post("/integrations", response_class=HTMLResponse)
async def add_integration(request: Request) -> Response:
    session = session_or_login(request)
    form = await request.form()
    check_form_csrf(form, session.csrf)
    values = {
        "type": form.get("type"),
        "tenant": str(form.get("tenant") or ""),
        "cloud": str(form.get("cloud") or ""),
        "profile_id": str(form.get("profile_id") or ""),
        "enabled": checked(form, "enabled"),
    }
    if values["type"] != ENTRA_ID_SYNC:
        errors = {"type": "Choose the Entra ID Sync type."}
        return await integrations_page(request, True, values, errors, 422)
    missing = missing_fields(values, REQUIRED_TENANT_FIELDS)
    try:
        create = TenantCreate.model_validate(
            {field: values[field] for field in ("tenant", "cloud", "profile_id", "enabled")}
        )
        if missing:
            return await integrations_page(request, True, values, missing, 422)
        tenant = await console(request).services.call(ConfigApi.tenant_create, create)
    except (ValidationError, ApiCallError) as err:
        errors, general = form_errors(err)
        toasts = [{"kind": "error", "text": general}] if general else []
        errors = {**errors, **missing}
        return await integrations_page(request, True, values, errors, 422, toasts)
    return redirect("/integrations", request, ("success", f"Added {tenant.name}."))


@router.get("/tenants/{tenant_id}", response_class=HTMLResponse)
async def tenant_details(request: Request, tenant_id: str) -> Response:
    session_or_login(request)
    asked = request.query_params.get("tab")
    tab = asked if asked in ("history", "privileged") else "configuration"
    return await tenant_page(request, tenant_id, tab)


async def tenant_page(
    request: Request,
    tenant_id: str,
    tab: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    toasts: list[dict[str, str]] | None = None,
    conflict: conflicts.Conflict | None = None,
) -> Response:
    state = console(request)
    try:
        tenant = await state.services.call(
            ConfigApi.tenant_get, TenantRef(tenant_id=tenant_id[:64])
        )
    except ApiCallError as err:
        if err.error.code != "not_found":
            raise
        return await history_pages.deleted_or_missing(request, tenant_id)
    (view,) = await views.tenant_views(state.services, [tenant])
    profiles = await views.profiles_by_name(state.services)
    context: dict[str, Any] = {
        "tenant": view,
        "tab": tab,
        "profiles": profiles,
        "values": values or tenant.model_dump(),
        "errors": errors or {},
        "page_sizes": HISTORY_PAGE_SIZES,
        "toasts": toasts or [],
        "conflict": conflict,
        "type_choices": TYPE_CHOICES,
    }
    if tab == "history":
        context.update(await history_pages.tenant_history(request, tenant.id, tenant.name))
    elif tab == "privileged":
        context.update(await privileged_pages.tenant_privileged(request, tenant.id))
    elif tenant.near_real_time:
        context["subscriptions"], context["subscriptions_error"] = await subscriptions_of(
            request, tenant.id
        )
    return await render(request, state, "tenant.html", status_code, **context)


async def subscriptions_of(
    request: Request, tenant_id: str
) -> tuple[list[SubscriptionRecord], str | None]:
    """The tenant's Graph subscriptions as the scheduler knows them, or why they are unknown."""
    try:
        found = await console(request).services.call(
            SchedulerApi.subscriptions_list, TenantRef(tenant_id=tenant_id)
        )
    except ApiCallError as err:
        return [], f"unknown: {err.error.message}"
    return found, None


@router.post("/tenants/{tenant_id}", response_class=HTMLResponse)
async def save_tenant(request: Request, tenant_id: str) -> Response:
    session = session_or_login(request)
    form = await request.form()
    check_form_csrf(form, session.csrf)
    values: dict[str, Any] = {
        "profile_id": str(form.get("profile_id") or ""),
        "enabled": checked(form, "enabled"),
        "full_scan_next": checked(form, "full_scan_next"),
        "near_real_time": checked(form, "near_real_time"),
    }
    types = chosen_types(form)
    if types is not None:
        values["object_types"] = types
    base = conflicts.base_values(form)
    try:
        version = int(str(form.get("version") or ""))
        update = TenantUpdate(
            tenant_id=tenant_id[:64], version=version, **conflicts.to_save(values, base)
        )
        tenant = await console(request).services.call(ConfigApi.tenant_update, update)
    except ValueError as err:
        if not isinstance(err, ValidationError):
            raise Problem(422, "validation", "the form lacks its version; reload it") from None
        errors, general = form_errors(err)
        return await tenant_error(request, tenant_id, values, errors, general)
    except ApiCallError as err:
        current = await console(request).services.call(
            ConfigApi.tenant_get, TenantRef(tenant_id=tenant_id[:64])
        )
        if err.error.code == "conflict" and current.version != version:
            return await tenant_conflict(request, current, conflicts.edits(values, base), base)
        errors, general = form_errors(err)
        return await tenant_error(request, tenant_id, values, errors, general)
    return redirect(f"/tenants/{tenant.id}", request, ("success", f"Saved {tenant.name}."))


async def tenant_conflict(
    request: Request, current: Tenant, mine: dict[str, Any], base: dict[str, Any] | None
) -> Response:
    """The stored settings with the user's edits on top, and what changed meanwhile."""
    stored = current.model_dump()
    profiles = {p.id: p.name for p in await console(request).services.call(ConfigApi.profile_list)}
    conflict = conflicts.describe(base, stored, mine, profiles)
    text = "Not saved: this tenant was changed while you were editing it. Review and save again."
    toasts = [{"kind": "error", "text": text}]
    values = {**stored, **mine}
    return await tenant_page(
        request, current.id, "configuration", values, {}, 409, toasts, conflict=conflict
    )


async def tenant_error(
    request: Request,
    tenant_id: str,
    values: dict[str, Any],
    errors: dict[str, str],
    general: str | None,
) -> Response:
    current = await console(request).services.call(
        ConfigApi.tenant_get, TenantRef(tenant_id=tenant_id[:64])
    )
    shown = {**current.model_dump(), **values}
    toasts = [{"kind": "error", "text": general}] if general else []
    return await tenant_page(request, tenant_id, "configuration", shown, errors, 422, toasts)


@router.post("/tenants/{tenant_id}/delete")
async def delete_tenant(request: Request, tenant_id: str) -> Response:
    session = session_or_login(request)
    form = await request.form()
    check_form_csrf(form, session.csrf)
    try:
        version = int(str(form.get("version") or ""))
    except ValueError:
        raise Problem(422, "validation", "the form lacks its version; reload it") from None
    request_model = TenantDelete(
        tenant_id=tenant_id[:64], version=version, purge_history=checked(form, "purge_history")
    )
    try:
        tenant = await console(request).services.call(ConfigApi.tenant_delete, request_model)
    except ApiCallError as err:
        text = stale_version(err, "tenant", "deleted") or f"Not deleted: {err.error.message}"
        return redirect(f"/tenants/{tenant_id[:64]}", request, ("error", text))
    return redirect("/integrations", request, ("success", f"Deleted {tenant.name}."))
