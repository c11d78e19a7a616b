"""Request authentication: API tokens (`Authorization: Bearer`) or the session cookie + CSRF.

A session may read anything; a state-changing request made with a session must also carry the
session's CSRF token (header `X-CSRF-Token` for scripts, form field `csrf_token` for forms).
Token requests need no CSRF token: a browser never adds an Authorization header by itself.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from entrasync_console.core.auth import (
    Accounts,
    LoginThrottle,
    Principal,
    Session,
    SessionCodec,
    SessionStore,
    StoreUnavailable,
)
from entrasync_console.core.errors import Problem
from entrasync_console.ports import EventLog, Services
from entrasync_console.settings import ConsoleSettings, IPNetwork

log = logging.getLogger("entrasync.console")

SESSION_COOKIE = "entrasync_session"
LOGIN_COOKIE = "entrasync_login"
FLASH_COOKIE = "entrasync_flash"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, description="An API token (`entrasync-console new-token`)")
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The console's login session; unsafe methods also need the X-CSRF-Token header",
)


@dataclass
class Console:
    """Everything a request handler needs; `services`, `sessions` and `events` exist once the
    app has started."""

    settings: ConsoleSettings
    accounts: Accounts
    codec: SessionCodec
    throttle: LoginThrottle
    sessions: SessionStore | None = None
    events: EventLog | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _services: Services | None = field(default=None, init=False, repr=False)

    @property
    def started(self) -> bool:
        return self._services is not None

    @property
    def services(self) -> Services:
        """The other services' client: a 503 for the request until the app has started (the
        lifespan sets it), so handlers never see None."""
        if self._services is None:
            raise Problem(503, "unavailable", "the console is still starting")
        return self._services

    @services.setter
    def services(self, services: Services) -> None:
        self._services = services


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    if not found.started:
        raise Problem(503, "unavailable", "the console is still starting")
    return found


def current_session(request: Request) -> Session | None:
    """The request's live session (`SessionGate` looked it up), or None."""
    found: Session | None = request.scope.get("state", {}).get("session")
    return found


async def live_session(console: Console, cookie: str | None) -> Session | None:
    """The cookie's session if it is signed, unexpired, of an admin who still exists with the
    same password, and not logged out (see `core.auth`); None otherwise, also when unsure."""
    session = console.codec.read(cookie)
    if session is None or console.accounts.generation(session.user) != session.generation:
        return None
    if console.sessions is None:
        return None
    try:
        return session if await console.sessions.holds(session.sid, session.user) else None
    except StoreUnavailable as err:
        log.warning("treating a session as logged out: %s", err)
        return None


class SessionGate:
    """ASGI middleware: looks the session cookie up once per request, for every route.

    Routes read the result with `current_session` (pages and the login form synchronously), so
    the asynchronous store lookup happens here. Static files need no session.
    """

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app, self.console = app, console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            session = None
            if not scope["path"].startswith("/static/"):
                cookie = HTTPConnection(scope).cookies.get(SESSION_COOKIE)
                session = await live_session(self.console, cookie) if cookie else None
            scope.setdefault("state", {})["session"] = session
        await self.app(scope, receive, send)


def client_address(request: Request, proxies: tuple[IPNetwork, ...]) -> str:
    """Whom failed logins are counted for: the TCP peer, unless that is a trusted proxy.

    Only then is `X-Forwarded-For` read, from the right: each proxy appends the address it saw,
    so the rightmost hop that is not a trusted proxy is the client; anything left of it was
    written by the client itself and could be anything.
    """
    peer = request.client.host if request.client else "unknown"
    if not _is_proxy(peer, proxies):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_proxy(hop, proxies):
            return hop
    return hops[0] if hops else peer


def _is_proxy(address: str, proxies: tuple[IPNetwork, ...]) -> bool:
    try:
        found = ip_address(address)
    except ValueError:
        return False
    found = getattr(found, "ipv4_mapped", None) or found  # `::ffff:10.0.0.1` is 10.0.0.1
    return any(found in network for network in proxies)


def same_token(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())


async def api_principal(
    request: Request,
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> Principal:
    """The caller of an API route; 401 without valid credentials, 403 without CSRF token."""
    found: Console = request.app.state.console
    if request.headers.get("authorization"):
        name = found.accounts.token_owner(token.credentials) if token is not None else None
        if name is None:
            raise Problem(
                401,
                "unauthenticated",
                "unknown API token (send `Authorization: Bearer <token>`)",
                headers={"www-authenticate": "Bearer"},
            )
        return Principal(name, "token")
    del cookie  # declared for the OpenAPI document; `SessionGate` has read it
    session = current_session(request)
    if session is None:
        raise Problem(
            401,
            "unauthenticated",
            "log in, or send an API token as `Authorization: Bearer <token>`",
            headers={"www-authenticate": "Bearer"},
        )
    if request.method not in SAFE_METHODS and not same_token(
        request.headers.get(CSRF_HEADER), session.csrf
    ):
        raise Problem(403, "csrf", "a session request that changes something needs X-CSRF-Token")
    return Principal(session.user, "session", session.csrf)
