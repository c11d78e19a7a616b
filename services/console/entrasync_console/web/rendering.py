"""Server-rendered pages: templates, the navigation pane, flash toasts and form helpers."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from entrasync_shared.natsutil import ApiCallError
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import ValidationError
from starlette.datastructures import FormData

from entrasync_console.core import views
from entrasync_console.core.errors import Problem, first_problem
from entrasync_console.core.security import (
    CSRF_FIELD,
    FLASH_COOKIE,
    Console,
    current_session,
    same_token,
)

HERE = Path(__file__).parent
FLASH_SECONDS = 60
LIVE_HEADER = "x-live-refresh"
"""Sent by the page's own script when it re-reads the page to refresh its live parts."""
BREAK_AFTER = re.compile(r"([.\-@_])")


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


def breakable(value: object) -> Markup:
    """A domain or name that may wrap after its dots, never inside a label (`<wbr>` hints)."""
    return Markup(BREAK_AFTER.sub(r"\1<wbr>", str(escape(value))))


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["when"] = when
    templates.env.filters["breakable"] = breakable
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
    """Errors per form field (every field at once), and the message of one naming no field."""
    if isinstance(err, ApiCallError):
        found = [err.error]
    else:
        found = [
            first_problem([problem])
            for problem in err.errors(include_url=False, include_input=False)
        ]
    fields: dict[str, str] = {}
    general = None
    for problem in found:
        if problem.field:
            fields.setdefault(problem.field.split(".")[0], problem.message)
        else:
            general = general or problem.message
    return fields, general


def stale_version(err: ApiCallError, kind: str, action: str = "saved") -> str | None:
    """A plain message for a change based on an old version of the record, else None."""
    if err.error.code != "conflict" or err.error.field != "version":
        return None
    return f"Not {action}: this {kind} was changed meanwhile. Check it and try again."


def missing_fields(values: Mapping[str, object], required: dict[str, str]) -> dict[str, str]:
    """What each empty required field says, so an empty form lists all of them at once."""
    return {name: message for name, message in required.items() if not values.get(name)}


def is_live(request: Request) -> bool:
    return request.headers.get(LIVE_HEADER) == "1"


def with_etag(request: Request, response: HTMLResponse) -> Response:
    """A rendered page with an ETag of its content; 304 when the client already has it.

    The tag is a hash of what was rendered, so every console replica gives the same one for the
    same stored state, and a page that re-reads itself every few seconds costs a few bytes.
    """
    etag = f'W/"{hashlib.sha256(bytes(response.body)).hexdigest()[:32]}"'
    if response.status_code == 200 and request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"etag": etag})
    response.headers["etag"] = etag
    return response


async def render(
    request: Request,
    console: Console,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page with the navigation pane's tenants, the user, the CSRF token and any toast."""
    session = session_or_login(request)
    nav_error = None
    try:
        nav_tenants = await views.tenants_by_name(console.services)
    except ApiCallError as err:
        nav_tenants, nav_error = [], err.error.message
    # A live refresh must not eat a toast meant for the page load it races with.
    flash = None if is_live(request) else read_flash(request)
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
    return with_etag(request, response)
