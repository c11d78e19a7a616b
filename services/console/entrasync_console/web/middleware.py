"""Cross-cutting HTTP behaviour: errors as JSON (API) or pages (UI), and security headers."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from entrasync_shared.natsutil import ApiCallError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrasync_console.api.common import router as api_router
from entrasync_console.core.errors import Problem, first_problem, http_status
from entrasync_console.web.rendering import LoginRequired

log = logging.getLogger("entrasync.console")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_page(request: Request, status: int, message: str) -> Response:
    templates = request.app.state.console.extras["templates"]
    context = {"status": status, "message": message, "user": None, "csrf": ""}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def add_error_handlers(app: FastAPI) -> None:
    def answer(request: Request, status: int, error: Any, headers: Any = None) -> Response:
        if is_api(request):
            body = error.model_dump()
            return JSONResponse(body, status_code=status, headers=headers)
        return error_page(request, status, error.message)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> Response:
        return answer(request, exc.status, exc.error, exc.headers)

    @app.exception_handler(ApiCallError)
    async def on_service_error(request: Request, exc: ApiCallError) -> Response:
        status = http_status(exc.error.code)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return answer(request, status, exc.error)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        return answer(request, 422, first_problem(exc.errors()))

    @app.exception_handler(ValidationError)
    async def on_model_invalid(request: Request, exc: ValidationError) -> Response:
        errors = exc.errors(include_url=False, include_input=False)
        return answer(request, 422, first_problem(errors))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = {404: "no such page or API endpoint"}.get(exc.status_code, str(exc.detail))
        headers = {
            k: v for k, v in (getattr(exc, "headers", None) or {}).items() if k.lower() != "allow"
        }
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            headers["allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed here; use {' or '.join(allowed)}"
        error = Problem(exc.status_code, code, message).error
        return answer(request, exc.status_code, error, headers)

    @app.exception_handler(LoginRequired)
    async def on_login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


def allowed_methods(request: Request) -> list[str]:
    """Every method some API route serves at this path (Starlette names only the first one's)."""
    routes = [r for r in api_router.routes if isinstance(r, APIRoute)]
    # A literal path (`/tenants/test-connection`) is its own resource, not a `{tenant_id}`.
    exact = [r for r in routes if r.path == request.url.path]
    methods: set[str] = set()
    for route in exact or routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def add_security_headers(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """Pure ASGI (not `@app.middleware`): that runs the app in another task, so an error raised
    while a route reads its body (`bodies.BodyLimit`) would miss the app's error handlers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "same-origin")
                headers.setdefault("x-frame-options", "DENY")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
                if not static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
