"""Fault injection: rules matched per request by endpoint name, tenant, count and chance.

The middleware runs before routing, so a fault can stand in for anything between the client
and Graph: a slow network (latency), a dropped connection (TCP reset, no response), or an
error status with an optional `Retry-After`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import random
import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from entrasync_sim.errors import aad_error, graph_error, throttled_error
from entrasync_sim.schema import KINDS

if TYPE_CHECKING:
    from entrasync_sim.runtime import Simulator

_DELTA = {"delta", "delta()", "microsoft.graph.delta", "microsoft.graph.delta()"}
_GRAPH_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Authorization_RequestDenied",
    404: "Request_ResourceNotFound",
    409: "Request_MultipleObjectsWithSameKeyValue",
    429: "TooManyRequests",
    500: "generalException",
    502: "badGateway",
    503: "serviceNotAvailable",
    504: "gatewayTimeout",
}
IDENTITY_ENDPOINTS = ("openid-configuration", "token", "keys")


class FaultSpecError(ValueError):
    """A fault rule that makes no sense."""


@dataclass
class FaultRule:
    """One rule; `seen` counts matching requests, `hits` the times it fired."""

    id: str
    endpoint: str = "*"
    status: int | None = None
    count: int | None = None
    probability: float = 1.0
    after: int = 0
    retry_after: str | None = None
    latency: float = 0.0
    reset: bool = False
    tenant_id: str | None = None
    error_code: str | None = None
    seed: int = 0
    seen: int = 0
    hits: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def describe(self) -> dict[str, Any]:
        names: tuple[str, ...] = (
            *("id", "endpoint", "status", "count", "probability", "after", "retry_after"),
            *("latency", "reset", "tenant_id", "error_code", "seed", "seen", "hits"),
        )
        return {name: getattr(self, name) for name in names}

    def matches(self, endpoint: str, tenant_id: str | None) -> bool:
        if not fnmatch.fnmatchcase(endpoint, self.endpoint):
            return False
        return self.tenant_id is None or (tenant_id or "").lower() == self.tenant_id.lower()

    def fires(self) -> bool:
        """Count one matching request; whether the rule fires on it."""
        self.seen += 1
        if self.seen <= self.after or (self.count is not None and self.hits >= self.count):
            return False
        if self.probability < 1.0 and self._rng.random() >= self.probability:
            return False
        self.hits += 1
        return True


def parse_rule(rule_id: str, body: dict[str, Any]) -> FaultRule:
    """Validate a control-API fault body."""
    allowed = {"endpoint", "status", "count", "probability", "after", "retry_after"}
    allowed |= {"latency", "reset", "tenant_id", "error_code", "seed"}
    unknown = set(body) - allowed
    if unknown:
        raise FaultSpecError(f"Unknown fault fields: {sorted(unknown)}.")
    rule = FaultRule(rule_id, **{k: v for k, v in body.items() if v is not None})
    if not isinstance(rule.endpoint, str) or not rule.endpoint:
        raise FaultSpecError("endpoint must be a non-empty glob.")
    if rule.status is not None and (type(rule.status) is not int or not 400 <= rule.status < 600):
        raise FaultSpecError("status must be an HTTP error status (400-599).")
    if rule.count is not None and (type(rule.count) is not int or rule.count < 1):
        raise FaultSpecError("count must be a positive integer.")
    if type(rule.after) is not int or rule.after < 0:
        raise FaultSpecError("after must be a non-negative integer.")
    if not isinstance(rule.probability, int | float) or not 0 < rule.probability <= 1:
        raise FaultSpecError("probability must be in (0, 1].")
    if not isinstance(rule.latency, int | float) or not 0 <= rule.latency <= 300:
        raise FaultSpecError("latency must be between 0 and 300 seconds.")
    if not isinstance(rule.reset, bool):
        raise FaultSpecError("reset must be a boolean.")
    if rule.retry_after is not None:
        rule.retry_after = str(rule.retry_after)
    if rule.status is None and not rule.reset and not rule.latency:
        raise FaultSpecError("A fault needs a status, reset or latency.")
    if rule.status is not None and rule.reset:
        raise FaultSpecError("A fault either resets the connection or answers a status.")
    rule._rng = random.Random(rule.seed)
    return rule


@dataclass
class FaultBook:
    """The active rules, in the order they were added (the first that fires wins)."""

    rules: list[FaultRule] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, body: dict[str, Any]) -> FaultRule:
        rule = parse_rule(f"f{next(self._ids)}", body)
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) < before

    def clear(self) -> None:
        self.rules.clear()

    def firing(self, endpoint: str, tenant_id: str | None) -> FaultRule | None:
        for rule in self.rules:
            if rule.matches(endpoint, tenant_id) and rule.fires():
                return rule
        return None


def endpoint_of(path: str) -> tuple[str | None, str | None]:
    """(endpoint name, tenant key from the path) for fault matching; (None, None) if exempt."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] == "_control":
        return None, None
    if parts[0] == "v1.0":
        # `directory/administrativeUnits/...` is named like `administrativeUnits/...`.
        rest = parts[2:] if parts[1:2] == ["directory"] else parts[1:]
        if len(rest) >= 2 and rest[0] in KINDS and rest[1] in _DELTA:
            return f"{rest[0]}/delta", None
        return (rest[0] if rest else ""), None
    if parts[-1] == "token":
        return "token", parts[0]
    if parts[-1] == "openid-configuration":
        return "openid-configuration", parts[0]
    if parts[-1] == "keys":
        return "keys", parts[0]
    return "/".join(parts[1:]), parts[0]


def _bearer_tenant(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            raw = value.decode("latin-1").partition(" ")[2].strip()
            try:
                claims = jwt.decode(raw, options={"verify_signature": False})
            except jwt.PyJWTError:
                return None
            tid = claims.get("tid")
            return tid if isinstance(tid, str) else None
    return None


class FaultMiddleware:
    """ASGI middleware applying the simulator's fault rules before routing."""

    def __init__(self, app: ASGIApp, simulator: Simulator) -> None:
        self.app = app
        self.simulator = simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        book = self.simulator.faults
        if scope["type"] != "http" or not book.rules:
            await self.app(scope, receive, send)
            return
        endpoint, tenant_key = endpoint_of(scope["path"])
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        tenant_id: str | None
        if tenant_key is not None:
            tenant = self.simulator.tenants.resolve(tenant_key)
            tenant_id = tenant.tenant_id if tenant else tenant_key
        else:
            tenant_id = _bearer_tenant(scope)
        rule = book.firing(endpoint, tenant_id)
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.latency:
            await asyncio.sleep(rule.latency)
        if rule.reset:
            await _reset_connection(receive)
        elif rule.status is not None:
            await self._error(rule, endpoint, scope)(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _error(self, rule: FaultRule, endpoint: str, scope: Scope) -> Response:
        status = rule.status or 500
        headers = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
        clock = self.simulator.clock
        if endpoint in IDENTITY_ENDPOINTS:
            number = 90055 if status == 429 else 90033
            text = "A transient error has occurred. Please try again."
            response = aad_error(
                clock, status, rule.error_code or "temporarily_unavailable", number, text
            )
            response.headers.update(headers)
            return response
        if status == 429 and rule.error_code is None:
            return throttled_error(Request(scope), clock, headers)
        code = rule.error_code or _GRAPH_CODES.get(status, "UnknownError")
        return graph_error(Request(scope), clock, status, code, "Injected fault.", headers=headers)


async def _reset_connection(receive: Receive) -> None:
    """Abort the TCP connection with an RST, then wait until the server has noticed."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("this server does not expose its transport; cannot reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()
    while (await receive())["type"] != "http.disconnect":
        pass
