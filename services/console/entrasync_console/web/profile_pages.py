"""The Credential Profiles page: list with expiry warnings, add, edit (secret write-only)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from entrasync_shared.catalog import ConfigApi
from entrasync_shared.messages import (
    CredentialProfileCreate,
    ProfileDelete,
    ProfileRef,
    ProfileUpdate,
)
from entrasync_shared.natsutil import ApiCallError
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from entrasync_console.core import views
from entrasync_console.core.errors import Problem
from entrasync_console.core.security import console
from entrasync_console.web.rendering import (
    check_form_csrf,
    form_errors,
    missing_fields,
    redirect,
    render,
    session_or_login,
    stale_version,
)

router = APIRouter(include_in_schema=False)
FIELDS = ("name", "client_id", "secret_expires_at")
SECRETS = ("client_secret", "private_key_pem", "certificate_pem")
REQUIRED = {
    "name": "Enter a name for the profile.",
    "client_id": "Enter the application (client) ID.",
    "client_secret": "Enter the client secret, or give a certificate below.",
}


def profile_values(form: FormData) -> dict[str, Any]:
    """The form's non-empty fields; blank secret fields mean "keep the current one". With
    workload identity ticked, the kind and the token file (blank: the service's default)."""
    values: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in FIELDS}
    values["secret_expires_at"] = values["secret_expires_at"] or None
    for name in SECRETS:
        text = str(form.get(name) or "")
        if text.strip():
            values[name] = text.strip() if name == "client_secret" else text
    if form.get("kind") == "federated":
        values["kind"] = "federated"
        values["federated_token_file"] = str(form.get("federated_token_file") or "").strip() or None
    return values


def missing_profile_fields(values: dict[str, Any]) -> dict[str, str]:
    required = dict(REQUIRED)
    if any(name in values for name in SECRETS) or values.get("kind") == "federated":
        del required["client_secret"]  # a certificate or no secret; config checks the rest
    return missing_fields(values, required)


async def profiles_page(
    request: Request,
    adding: bool,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    toasts: list[dict[str, str]] | None = None,
) -> Response:
    state = console(request)
    session_or_login(request)
    profiles = await views.profiles_by_name(state.services)
    tenants = await state.services.call(ConfigApi.tenant_list)
    used = {
        profile.id: [t.name for t in tenants if t.profile_id == profile.id] for profile in profiles
    }
    return await render(
        request,
        state,
        "profiles.html",
        status_code,
        profiles=profiles,
        used=used,
        adding=adding,
        values=values or {},
        errors=errors or {},
        toasts=toasts or [],
    )


@router.get("/credential-profiles", response_class=HTMLResponse)
async def list_profiles(request: Request) -> Response:
    return await profiles_page(request, adding=False)


@router.get("/credential-profiles/new", response_class=HTMLResponse)
async def new_profile(request: Request) -> Response:
    return await profiles_page(request, adding=True)


@router.post("/credential-profiles", response_class=HTMLResponse)
async def add_profile(request: Request) -> Response:
    session = session_or_login(request)
    form = await request.form()
    check_form_csrf(form, session.csrf)
    values = profile_values(form)
    shown = {k: v for k, v in values.items() if k not in SECRETS}
    missing = missing_profile_fields(values)
    try:
        create = CredentialProfileCreate(**values)
        if missing:
            return await profiles_page(request, True, shown, missing, 422)
        profile = await console(request).services.call(ConfigApi.profile_create, create)
    except (ValidationError, ApiCallError) as err:
        errors, general = form_errors(err)
        toasts = [{"kind": "error", "text": general}] if general else []
        return await profiles_page(request, True, shown, {**errors, **missing}, 422, toasts)
    return redirect("/credential-profiles", request, ("success", f"Added {profile.name}."))


async def profile_page(
    request: Request,
    profile_id: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    toasts: list[dict[str, str]] | None = None,
) -> Response:
    state = console(request)
    session_or_login(request)
    try:
        profile = await state.services.call(
            ConfigApi.profile_get, ProfileRef(profile_id=profile_id[:64])
        )
    except ApiCallError as err:
        if err.error.code != "not_found":
            raise
        raise Problem(404, "not_found", f"There is no credential profile {profile_id!r}.") from None
    return await render(
        request,
        state,
        "profile.html",
        status_code,
        profile=profile,
        values=values or profile.model_dump(),
        errors=errors or {},
        toasts=toasts or [],
    )


@router.get("/credential-profiles/{profile_id}", response_class=HTMLResponse)
async def show_profile(request: Request, profile_id: str) -> Response:
    return await profile_page(request, profile_id)


@router.post("/credential-profiles/{profile_id}", response_class=HTMLResponse)
async def save_profile(request: Request, profile_id: str) -> Response:
    session = session_or_login(request)
    form = await request.form()
    check_form_csrf(form, session.csrf)
    values = profile_values(form)  # an emptied expiry date clears it
    try:
        version = int(str(form.get("version") or ""))
        update = ProfileUpdate(profile_id=profile_id[:64], version=version, **values)
        profile = await console(request).services.call(ConfigApi.profile_update, update)
    except (ValueError, ApiCallError) as err:
        if not isinstance(err, ValidationError | ApiCallError):
            raise Problem(422, "validation", "the form lacks its version; reload it") from None
        errors, general = form_errors(err)
        if isinstance(err, ApiCallError) and (stale := stale_version(err, "profile")):
            errors, general = {}, stale  # the page shows the stored version: Save works again
        toasts = [{"kind": "error", "text": general}] if general else []
        shown = {k: v for k, v in values.items() if k not in SECRETS}
        return await profile_page(request, profile_id, shown, errors, 422, toasts)
    target = f"/credential-profiles/{quote(profile.id)}"
    return redirect(target, request, ("success", f"Saved {profile.name}."))


@router.post("/credential-profiles/{profile_id}/delete")
async def delete_profile(request: Request, profile_id: str) -> Response:
    session = session_or_login(request)
    form = await request.form()
    check_form_csrf(form, session.csrf)
    try:
        profile = await console(request).services.call(
            ConfigApi.profile_delete, ProfileDelete(profile_id=profile_id[:64])
        )
    except ApiCallError as err:
        flash = ("error", f"Not deleted: {err.error.message}")
        return redirect(f"/credential-profiles/{quote(profile_id[:64])}", request, flash)
    return redirect("/credential-profiles", request, ("success", f"Deleted {profile.name}."))
