"""Microsoft Graph pages over httpx, with throttling retries and one token refresh.

One pooled `httpx.AsyncClient` per trust root lives as long as the process, so runs reuse warm
TLS connections. Within a run, a `Retry-After` from any request pauses every request of that
run: Graph's throttling budget is per app and tenant, and the run's object types share it.
A `Retry-After` is waited out in full, up to the policy's maximum (then the type fails).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from entrasync_shared.egress import EgressProxies
from entrasync_shared.kit import tracing
from entrasync_shared.messages import CloudEndpoints
from opentelemetry import trace
from opentelemetry.trace import Span

from entrasync_syncer.adapters import metrics
from entrasync_syncer.adapters.netstream import AsyncioTransport
from entrasync_syncer.domain import RetryPolicy, classify, parse_retry_after
from entrasync_syncer.ports import (
    DeltaLinkExpired,
    DeltaPage,
    GraphError,
    RequestStats,
    TokenError,
    TokenSupplier,
)

log = logging.getLogger("entrasync.syncer.graph")

Sleep = Callable[[float], Awaitable[None]]
_MAX_MESSAGE = 300
_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=60)


class HttpxGraphConnector:
    """Hands out readers over a long-lived, pooled client per CA and egress proxy (`proxies`
    decides a cloud's, from `ENTRASYNC_CLOUD_PROXIES`, `HTTPS_PROXY` and `NO_PROXY`; None: all
    direct); `aclose()` at shutdown."""

    def __init__(
        self,
        policy: RetryPolicy,
        timeout: float,
        *,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        proxies: EgressProxies | None = None,
    ) -> None:
        self._proxies = proxies
        self._policy = policy
        self._timeout = timeout
        self._sleep = sleep
        self._transport = transport
        self._clients: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def open(self, cloud: CloudEndpoints) -> AsyncIterator[HttpxGraphReader]:
        proxy = self._proxies.for_url(cloud.name, cloud.graph_url) if self._proxies else None
        yield HttpxGraphReader(self._client(cloud.ca_pem, proxy), self._policy, self._sleep)

    def client(self, cloud: CloudEndpoints) -> httpx.AsyncClient:
        """The pooled client of `cloud` (its CA and egress proxy), for other Graph requests."""
        proxy = self._proxies.for_url(cloud.name, cloud.graph_url) if self._proxies else None
        return self._client(cloud.ca_pem, proxy)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def _client(self, ca_pem: str | None, proxy: str | None) -> httpx.AsyncClient:
        key = hashlib.sha256(f"{ca_pem or ''}\n{proxy or ''}".encode()).hexdigest()
        client = self._clients.get(key)
        if client is None:
            # The cloud's own CA when it has one (the simulator), else httpx's default (certifi).
            context = (
                ssl.create_default_context(cadata=ca_pem) if ca_pem else httpx.create_ssl_context()
            )
            client = httpx.AsyncClient(
                timeout=self._timeout,
                trust_env=False,
                transport=self._transport
                or AsyncioTransport(ssl_context=context, limits=_LIMITS, proxy=proxy),
                headers={"Accept": "application/json", "User-Agent": "entrasync-syncer"},
            )
            self._clients[key] = client
        return client


class HttpxGraphReader:
    """Fetches one page, retrying 429/5xx/network errors and refreshing the token once.

    A `Retry-After` pauses every request of the run, since the run's object types draw on one
    budget. When the pause ends, the request that was told to wait goes alone; the others
    follow once it got through: released together, they would meet an almost empty bucket at
    once, and each request Graph throttles still counts against the budget, lengthening the
    next wait.
    """

    def __init__(self, client: httpx.AsyncClient, policy: RetryPolicy, sleep: Sleep) -> None:
        self._client = client
        self._policy = policy
        self._sleep = sleep
        self._resume_at = 0.0  # monotonic time before which no request of this run goes out
        self._pause_owner: object | None = None  # the request that goes first after the pause
        self._released = asyncio.Event()
        self._released.set()

    async def page(
        self, url: str, token: TokenSupplier, stats: RequestStats | None = None
    ) -> DeltaPage:
        stats = stats if stats is not None else RequestStats()
        me = object()
        before = RequestStats(stats.requests, stats.throttled, stats.throttle_wait)
        with tracing.span("graph page", {"graph.endpoint": metrics.endpoint_of(url)}) as span:
            try:
                return await self._page(url, token, stats, me)
            finally:
                _trace_cost(span, before, stats)
                if self._pause_owner is me:
                    self._pause_owner = None
                    self._released.set()

    async def _page(
        self, url: str, token: TokenSupplier, stats: RequestStats, me: object
    ) -> DeltaPage:
        attempt, waited, refreshed = 0, 0.0, False
        while True:
            attempt += 1
            paused = stats.throttle_wait
            await self._wait_for_pause(me, stats)
            if stats.throttle_wait > paused:
                metrics.waited(url, stats.throttle_wait - paused)
            stats.requests += 1
            try:
                response = await self._get(url, await token(False))
            except httpx.TransportError as exc:
                metrics.graph_answered(url, None)
                problem = f"Graph unreachable ({type(exc).__name__})"
                wait = self._policy.delay(attempt, None)
                if self._policy.gives_up(attempt, waited, wait):
                    raise GraphError(f"{problem} after {attempt} attempts") from None
                log.info("%s on %s; retry in %.2f s", problem, _where(url), wait)
                waited += wait
                await self._sleep(wait)
                continue
            metrics.graph_answered(url, response.status_code)
            trace.get_current_span().set_attribute(
                "http.response.status_code", response.status_code
            )
            code, message = _error_of(response)
            verdict = classify(response.status_code, code, message)
            if verdict == "ok":
                return _page_of(response)
            problem = f"{response.status_code} {code or response.reason_phrase}: {message}"
            if verdict == "retry":
                stats.throttled += 1
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                metrics.throttled(url, retry_after)
                if retry_after is not None:
                    trace.get_current_span().set_attribute("graph.retry_after_seconds", retry_after)
                if self._policy.too_long(retry_after):
                    raise GraphError(
                        f"{problem} (Graph asked to wait {retry_after:.0f} s, longer than the "
                        f"{self._policy.max_retry_after:.0f} s this syncer waits: "
                        "ENTRASYNC_SYNCER_MAX_RETRY_AFTER)"
                    )
                wait = self._policy.delay(attempt, retry_after)
                if self._policy.gives_up(attempt, waited, wait):
                    raise GraphError(f"{problem} (gave up after {attempt} attempts)")
                log.info("Graph %s on %s; retry in %.2f s", problem, _where(url), wait)
                waited += wait
                if retry_after is not None:
                    self._pause(me, wait)
                stats.throttle_wait += wait
                metrics.waited(url, wait)
                await self._sleep(wait)
                continue
            if verdict == "reauth" and not refreshed:
                refreshed = True
                attempt -= 1
                try:
                    await token(True)
                except TokenError as exc:
                    raise GraphError(f"token refresh after 401 failed: {exc}") from None
                continue
            if verdict == "resync":
                raise DeltaLinkExpired(problem)
            raise GraphError(problem)

    def _pause(self, me: object, wait: float) -> None:
        """Hold every request of the run for `wait`; then `me` goes first."""
        self._resume_at = max(self._resume_at, time.monotonic() + wait)
        self._pause_owner = me
        self._released.clear()

    async def _wait_for_pause(self, me: object, stats: RequestStats) -> None:
        """Wait while another request of the run is throttled, and until it got through."""
        if self._pause_owner is None or self._pause_owner is me:
            return
        started = time.monotonic()
        delay = self._resume_at - started
        if delay > 0:
            await self._sleep(delay)
        await self._released.wait()
        stats.throttle_wait += max(delay, time.monotonic() - started)

    async def _get(self, url: str, bearer: str) -> httpx.Response:
        return await self._client.get(url, headers={"Authorization": f"Bearer {bearer}"})


def _trace_cost(span: Span, before: RequestStats, after: RequestStats) -> None:
    """What fetching one page cost, on its span: requests (retries), throttling answers and
    seconds waited (its own `Retry-After` and other requests' of the run)."""
    span.set_attribute("graph.requests", after.requests - before.requests)
    span.set_attribute("graph.throttled", after.throttled - before.throttled)
    span.set_attribute("graph.throttle_wait_seconds", after.throttle_wait - before.throttle_wait)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    if response.is_success:
        return "", ""
    try:
        error = response.json().get("error", {})
        code, message = str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        code, message = "", response.text
    return code, message[:_MAX_MESSAGE]


def _page_of(response: httpx.Response) -> DeltaPage:
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise GraphError("Graph returned a page that is not JSON") from None
    entries = body.get("value") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise GraphError("Graph returned a page without a value array")
    next_link, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
    return DeltaPage(
        entries=entries,
        next_link=next_link if isinstance(next_link, str) else None,
        delta_link=delta_link if isinstance(delta_link, str) else None,
    )


def _where(url: str) -> str:
    """A URL without its query: skip and delta tokens stay out of the logs."""
    return url.split("?", 1)[0]
