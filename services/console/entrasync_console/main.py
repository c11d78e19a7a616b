"""Composition root of the console and its `entrasync-console` entrypoint.

entrasync-console                 serve the web console and the REST API (settings from ENTRASYNC_*)
entrasync-console hash-password   read a password on stdin, print its argon2 hash
entrasync-console new-token NAME  print a new API token and the JSON entry that configures it
entrasync-console new-secret      print a random session secret
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

import nats
import uvicorn
from entrasync_shared.health import HealthServer
from entrasync_shared.kit.tracing import configure_tracing, tracing_on
from entrasync_shared.logs import configure_logging
from entrasync_shared.reconnects import ReconnectLog
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from entrasync_console import api
from entrasync_console.adapters.events import JetStreamEvents
from entrasync_console.adapters.kv_sessions import open_session_store
from entrasync_console.adapters.nats import NatsServices
from entrasync_console.api import bodies
from entrasync_console.core.auth import (
    Accounts,
    LoginThrottle,
    hash_password,
    new_token,
    wall_clock,
)
from entrasync_console.core.auth import SessionCodec as Codec
from entrasync_console.core.security import Console, SessionGate, api_principal
from entrasync_console.settings import ConsoleSettings
from entrasync_console.web import api_docs, history_pages, login, middleware, pages, profile_pages
from entrasync_console.web.metrics import RequestMetrics
from entrasync_console.web.rendering import HERE, build_templates
from entrasync_console.web.tracing import TracedRequests

log = logging.getLogger("entrasync.console")

API_DESCRIPTION = """The seed page's resources over HTTP: credential profiles, tenant sync
policies, Test Connection, Sync now, Sync History (JSON and CSV) and the synced objects.

Authenticate with an API token (`Authorization: Bearer <token>`) or the console's session
cookie (state-changing requests then also need the `X-CSRF-Token` header). Errors are JSON
`{"code", "message", "field"}`; `field` names the offending input of a 422."""


def build_app(settings: ConsoleSettings) -> FastAPI:
    """The console app; raises `ValueError` on unusable accounts or tokens. Connects on start."""
    state = Console(
        settings=settings,
        accounts=Accounts(settings.admin_hashes(), settings.token_hashes()),
        codec=Codec(
            settings.session_secret.get_secret_value(), settings.session_hours * 3600, wall_clock
        ),
        throttle=LoginThrottle(
            settings.login_max_failures,
            settings.login_delay_seconds,
            settings.login_max_delay_seconds,
            settings.login_window_seconds,
            wall_clock,
        ),
    )
    state.extras["templates"] = build_templates()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nc = await nats.connect(
            settings.nats_url,
            name="entrasync-console",
            inbox_prefix=settings.inbox_prefix,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            **ReconnectLog(log).callbacks(),
        )
        state.services = NatsServices(
            nc, settings.names, settings.request_timeout_seconds, settings.test_timeout_seconds
        )
        state.sessions = await open_session_store(nc, settings.names)
        state.events = JetStreamEvents(nc, settings.names.events_stream)
        health = None
        if settings.health_port:
            health = HealthServer(settings.health_port, {"nats": nats_connected})
            await health.start()
        log.info("entrasync-console ready: prefix=%r port=%d", settings.prefix, settings.port)
        try:
            yield
        finally:
            if health is not None:
                await health.stop()
            await nc.drain()

    async def nats_connected() -> bool:
        return state.started and state.services.connected

    app = FastAPI(
        title="entrasync console API",
        version=version("entrasync-console"),
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.console = state
    app.include_router(api.router)
    app.include_router(login.router)
    app.include_router(pages.router)
    app.include_router(history_pages.router)
    app.include_router(profile_pages.router)
    app.include_router(api_docs.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    add_health(app, nats_connected)
    add_openapi(app)
    middleware.add_error_handlers(app)
    middleware.add_security_headers(app)
    app.add_middleware(SessionGate, console=state)
    app.add_middleware(bodies.BodyLimit, limit=settings.max_body_bytes)
    if tracing_on():
        app.add_middleware(TracedRequests)
    app.add_middleware(RequestMetrics)  # outermost: requests the others refuse count too
    return app


def add_health(app: FastAPI, nats_connected: Callable[[], Awaitable[bool]]) -> None:
    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ready = await nats_connected()
        body = {"status": "ready" if ready else "not ready", "checks": {"nats": ready}}
        return JSONResponse(body, status_code=200 if ready else 503)


def add_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=API_DESCRIPTION,
                routes=app.routes,
            )
            app.openapi_schema = api.schemas.merge_into(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/api/v1/openapi.json", include_in_schema=False, dependencies=[Depends(api_principal)])
    async def openapi_document() -> JSONResponse:
        return JSONResponse(openapi())


def describe(err: ValidationError) -> str:
    """Setting errors without their input values (they may hold secrets)."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
        for e in err.errors(include_url=False, include_input=False)
    )


def _print_tools(command: str, name: str) -> bool:
    if command == "hash-password":
        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
        password = password.rstrip("\n")
        if not password:
            raise SystemExit("entrasync-console: empty password")
        print(hash_password(password))
        return True
    if command == "new-token":
        token, digest = new_token()
        print(json.dumps({"token": token, "entry": {name: digest}}))
        return True
    if command == "new-secret":
        print(secrets.token_urlsafe(48))
        return True
    return False


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="entrasync-console", description="entrasync console")
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "hash-password", "new-token", "new-secret"],
        default="serve",
    )
    parser.add_argument("name", nargs="?", default="script", help="name of a new API token")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if _print_tools(args.command, args.name):
        return
    configure_logging(logging.INFO, service="entrasync-console")
    configure_tracing("console")
    try:
        settings = ConsoleSettings()
        logging.getLogger().setLevel(settings.log_level.upper())
        app = build_app(settings)
    except ValidationError as err:
        log.error("entrasync-console cannot start: %s", describe(err))
        raise SystemExit(2) from None
    except ValueError as err:
        log.error("entrasync-console cannot start: %s", err)
        raise SystemExit(2) from None
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
        server_header=False,
        # The app reads X-Forwarded-For itself, and only from ENTRASYNC_CONSOLE_TRUSTED_PROXIES:
        # uvicorn's own handling would trust any local peer (FORWARDED_ALLOW_IPS=127.0.0.1).
        proxy_headers=False,
        log_config=None,
    )
    asyncio.run(uvicorn.Server(config).serve())
