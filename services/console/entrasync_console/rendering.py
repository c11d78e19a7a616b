"""Server-rendered pages: templates, the navigation pane, flash toasts and form helpers."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from entrasync_shared.natsutil import ApiCallError
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData

from entrasync_console.errors import Problem, first_problem
from entrasync_console.security import (
    CSRF_FIELD,
    FLASH_COOKIE,
    Console,
    current_session,
    same_token,
)

HERE = Path(__file__).parent
FLASH_SECONDS = 60


class LoginRequired(Exception):
    """A page was asked for without a session: the handler redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def when(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.isoformat()


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["when"] = when
    templates.env.filters["urlquote"] = lambda v: quote(str(v), safe="")
    return templates


def session_or_login(request: Request) -> Any:
    session = current_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return session


def check_form_csrf(form: FormData, csrf: str) -> None:
    sent = form.get(CSRF_FIELD)
    if not same_token(sent if isinstance(sent, str) else None, csrf):
        raise Problem(403, "csrf", "the form expired or did not come from this console; retry")


def redirect(url: str, request: Request, flash: tuple[str, str] | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if flash is not None:
        codec = request.app.state.console.codec
        value = codec.sign({"k": flash[0], "t": flash[1], "e": int(time.time()) + FLASH_SECONDS})
        response.set_cookie(
            FLASH_COOKIE,
            value,
            max_age=FLASH_SECONDS,
            httponly=True,
            secure=request.app.state.console.settings.cookie_secure,
            samesite="strict",
        )
    return response


def read_flash(request: Request) -> dict[str, str] | None:
    codec = request.app.state.console.codec
    body = codec.verify(request.cookies.get(FLASH_COOKIE))
    if not body or int(str(body.get("e", 0))) < time.time():
        return None
    return {"kind": str(body.get("k", "info")), "text": str(body.get("t", ""))}


def form_errors(err: ValidationError | ApiCallError) -> tuple[dict[str, str], str | None]:
    """Errors per form field, and the message of an error that names no field."""
    if isinstance(err, ValidationError):
        found = first_problem(err.errors(include_url=False, include_input=False))
    else:
        found = err.error
    if found.field:
        return {found.field.split(".")[0]: found.message}, None
    return {}, found.message


async def render(
    request: Request,
    console: Console,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page with the navigation pane's tenants, the user, the CSRF token and any toast."""
    session = session_or_login(request)
    nav_error = None
    try:
        nav_tenants = sorted(await console.services.tenants(), key=lambda t: t.name.lower())
    except ApiCallError as err:
        nav_tenants, nav_error = [], err.error.message
    flash = read_flash(request)
    toasts = [flash] if flash else []
    toasts += context.pop("toasts", [])
    response = console.extras["templates"].TemplateResponse(
        request,
        template,
        {
            "user": session.user,
            "csrf": session.csrf,
            "nav_tenants": nav_tenants,
            "nav_error": nav_error,
            "toasts": toasts,
            **context,
        },
        status_code=status_code,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE)
    return response
