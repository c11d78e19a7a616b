"""Microsoft Graph delta pages over httpx, with throttling retries and one token refresh."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from entrasync_shared.messages import CloudEndpoints

from entrasync_syncer.domain import RetryPolicy, classify, parse_retry_after
from entrasync_syncer.ports import (
    DeltaLinkExpired,
    DeltaPage,
    GraphError,
    TokenError,
    TokenSupplier,
)

log = logging.getLogger("entrasync.syncer.graph")

Sleep = Callable[[float], Awaitable[None]]
_MAX_MESSAGE = 300


class HttpxGraphConnector:
    """Opens one httpx client per run, trusting the cloud's own CA when it brings one."""

    def __init__(
        self,
        policy: RetryPolicy,
        timeout: float,
        *,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._policy = policy
        self._timeout = timeout
        self._sleep = sleep
        self._transport = transport

    @asynccontextmanager
    async def open(self, cloud: CloudEndpoints) -> AsyncIterator[HttpxGraphReader]:
        verify: ssl.SSLContext | bool = True
        if cloud.ca_pem:
            verify = ssl.create_default_context(cadata=cloud.ca_pem)
        async with httpx.AsyncClient(
            verify=verify,
            timeout=self._timeout,
            trust_env=False,
            transport=self._transport,
            headers={"Accept": "application/json", "User-Agent": "entrasync-syncer"},
        ) as client:
            yield HttpxGraphReader(client, self._policy, self._sleep)


class HttpxGraphReader:
    """Fetches one delta page, retrying 429/5xx/network errors and refreshing the token once."""

    def __init__(self, client: httpx.AsyncClient, policy: RetryPolicy, sleep: Sleep) -> None:
        self._client = client
        self._policy = policy
        self._sleep = sleep

    async def page(self, url: str, token: TokenSupplier) -> DeltaPage:
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            response = await self._get(url, await token(False), attempt)
            if response is None:
                continue
            code, message = _error_of(response)
            verdict = classify(response.status_code, code, message)
            if verdict == "ok":
                return _page_of(response)
            problem = f"{response.status_code} {code or response.reason_phrase}: {message}"
            if verdict == "retry" and attempt < self._policy.max_attempts:
                wait = self._policy.delay(
                    attempt, parse_retry_after(response.headers.get("Retry-After"))
                )
                log.info("Graph %s on %s; retry in %.2f s", problem, _where(url), wait)
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
            if verdict == "retry":
                problem = f"{problem} (gave up after {attempt} attempts)"
            raise GraphError(problem)

    async def _get(self, url: str, bearer: str, attempt: int) -> httpx.Response | None:
        """The response, or None after a transport error that is worth another attempt."""
        try:
            return await self._client.get(url, headers={"Authorization": f"Bearer {bearer}"})
        except httpx.TransportError as exc:
            problem = f"Graph unreachable ({type(exc).__name__})"
            if attempt >= self._policy.max_attempts:
                raise GraphError(f"{problem} after {attempt} attempts") from None
            wait = self._policy.delay(attempt, None)
            log.info("%s on %s; retry in %.2f s", problem, _where(url), wait)
            await self._sleep(wait)
            return None


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
        body: Any = response.json()
    except ValueError:
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
