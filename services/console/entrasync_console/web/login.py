"""Log in and out. Failed logins make one user name wait longer and longer from one address."""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from entrasync_console.core.auth import StoreUnavailable
from entrasync_console.core.errors import Problem
from entrasync_console.core.security import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Console,
    client_address,
    current_session,
    same_token,
)
from entrasync_console.web.rendering import check_form_csrf, redirect

LOGIN_FORM_SECONDS = 3600
HOME = "/integrations"
router = APIRouter(include_in_schema=False)


def safe_next(value: Any) -> str:
    """Only a path on this site: never `//evil.example` or `https://…` (open redirect)."""
    text = value if isinstance(value, str) else ""
    if text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return HOME


def _state(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def login_page(
    request: Request, next_path: str, error: str | None = None, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    console = _state(request)
    token = secrets.token_urlsafe(24)
    response = console.extras["templates"].TemplateResponse(
        request,
        "login.html",
        {"csrf": token, "next": next_path, "error": error, **extra},
        status_code=status_code,
    )
    cookie = console.codec.sign({"l": token, "e": int(time.time()) + LOGIN_FORM_SECONDS})
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=LOGIN_FORM_SECONDS,
        httponly=True,
        secure=console.settings.cookie_secure,
        samesite="strict",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
async def show_login(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if current_session(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    return login_page(request, next_path)


@router.post("/login", response_class=HTMLResponse)
async def log_in(request: Request) -> Response:
    console = _state(request)
    form = await request.form()
    next_path = safe_next(form.get("next"))
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    issued = console.codec.verify(request.cookies.get(LOGIN_COOKIE)) or {}
    fresh = int(str(issued.get("e", 0))) > time.time()
    if not fresh or not same_token(str(form.get(CSRF_FIELD) or ""), str(issued.get("l", ""))):
        message = "The login form expired; please try again."
        return login_page(request, next_path, message, 403, username=username)
    client = client_address(request, console.settings.proxies())
    wait = console.throttle.retry_after(client, username)
    if wait:
        message = f"Too many failed logins. Try again in {wait} seconds."
        throttled = login_page(request, next_path, message, 429, username=username)
        throttled.headers["retry-after"] = str(wait)
        return throttled
    if not username or not password:
        missing = "user name" if not username else "password"
        return login_page(request, next_path, f"Enter your {missing}.", 422, username=username)
    if not await run_in_threadpool(console.accounts.check_password, username, password):
        console.throttle.failed(client, username)
        message = "Wrong user name or password."
        return login_page(request, next_path, message, 401, username=username)
    console.throttle.succeeded(client, username)
    cookie = await _start_session(console, username)
    if cookie is None:
        message = "Cannot start a session right now; please try again in a moment."
        return login_page(request, next_path, message, 503, username=username)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=console.codec.lifetime,
        httponly=True,
        secure=console.settings.cookie_secure,
        samesite="lax",
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


async def _start_session(console: Console, user: str) -> str | None:
    """A new session's cookie, once the shared store holds it; None when it cannot."""
    generation = console.accounts.generation(user)
    if generation is None or console.sessions is None:
        return None
    cookie, session = console.codec.issue(user, generation)
    try:
        await console.sessions.add(session.sid, user)
    except StoreUnavailable:
        return None
    return cookie


@router.post("/logout")
async def log_out(request: Request) -> Response:
    console = _state(request)
    session = current_session(request)
    if session is not None and console.sessions is not None:
        check_form_csrf(await request.form(), session.csrf)
        try:
            await console.sessions.remove(session.sid)
        except StoreUnavailable:
            raise Problem(503, "unavailable", "cannot log out right now; try again") from None
    response = redirect("/login", request)
    response.delete_cookie(SESSION_COOKIE)
    return response
