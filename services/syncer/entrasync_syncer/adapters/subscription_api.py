"""Graph's `/v1.0/subscriptions` over the syncer's pooled httpx clients.

Throttling (429) and server errors are retried with the run's backoff policy, honouring
`Retry-After`; a 401 refreshes the token once; a 404 is `SubscriptionGone`; any other 4xx is
`SubscriptionRefused`, explained for the operator (`domain.subscriptions.explain`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from entrasync_shared.messages import CloudEndpoints

from entrasync_syncer.adapters.graph import HttpxGraphConnector
from entrasync_syncer.domain import RetryPolicy, parse_retry_after
from entrasync_syncer.domain.subscriptions import GraphSubscription, explain
from entrasync_syncer.ports import (
    GraphError,
    SubscriptionGone,
    SubscriptionRefused,
    TokenError,
    TokenSupplier,
)

log = logging.getLogger("entrasync.syncer.subscriptions")

Sleep = Callable[[float], Awaitable[None]]
_MAX_MESSAGE = 300


class HttpxSubscriptionConnector:
    """Implements `SubscriptionConnector` on the Graph connector's clients."""

    def __init__(
        self, graph: HttpxGraphConnector, policy: RetryPolicy, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._graph, self._policy, self._sleep = graph, policy, sleep

    @asynccontextmanager
    async def open(self, cloud: CloudEndpoints) -> AsyncIterator[HttpxSubscriptions]:
        base = f"{cloud.graph_url.rstrip('/')}/v1.0/subscriptions"
        yield HttpxSubscriptions(self._graph.client(cloud), base, self._policy, self._sleep)


class HttpxSubscriptions:
    """Implements `SubscriptionApi` for one cloud."""

    def __init__(
        self, client: httpx.AsyncClient, base: str, policy: RetryPolicy, sleep: Sleep
    ) -> None:
        self._client, self._base, self._policy, self._sleep = client, base, policy, sleep

    async def list(self, token: TokenSupplier) -> list[GraphSubscription]:
        found: list[GraphSubscription] = []
        url: str | None = self._base
        while url is not None:
            body = (await self._send("GET", url, token)).json()
            found += [_subscription(item) for item in body.get("value", [])]
            next_link = body.get("@odata.nextLink")
            url = next_link if isinstance(next_link, str) else None
        return found

    async def create(self, body: dict[str, Any], token: TokenSupplier) -> GraphSubscription:
        sent = await self._send("POST", self._base, token, body, str(body["notificationUrl"]))
        return _subscription(sent.json())

    async def renew(
        self, subscription_id: str, expires_at: datetime, token: TokenSupplier
    ) -> GraphSubscription:
        body = {"expirationDateTime": _graph_time(expires_at)}
        sent = await self._send("PATCH", f"{self._base}/{subscription_id}", token, body)
        return _subscription(sent.json())

    async def reauthorize(self, subscription_id: str, token: TokenSupplier) -> None:
        await self._send("POST", f"{self._base}/{subscription_id}/reauthorize", token)

    async def delete(self, subscription_id: str, token: TokenSupplier) -> None:
        try:
            await self._send("DELETE", f"{self._base}/{subscription_id}", token)
        except SubscriptionGone:
            return

    async def _send(
        self,
        method: str,
        url: str,
        token: TokenSupplier,
        body: dict[str, Any] | None = None,
        notification_url: str = "",
    ) -> httpx.Response:
        attempt, waited, refreshed = 0, 0.0, False
        while True:
            attempt += 1
            try:
                headers = {"Authorization": f"Bearer {await token(False)}"}
                response = await self._client.request(method, url, json=body, headers=headers)
            except httpx.TransportError as exc:
                retry_after, problem = None, f"Graph unreachable ({type(exc).__name__})"
            else:
                if response.is_success:
                    return response
                status = response.status_code
                code, message = _error_of(response)
                problem = f"{status} {code}: {message}"
                if status == 401 and not refreshed:
                    refreshed, attempt = True, attempt - 1
                    await _refresh(token)
                    continue
                if status == 404:
                    raise SubscriptionGone(problem)
                if status != 429 and status < 500:
                    raise SubscriptionRefused(explain(status, code, message, notification_url))
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = self._policy.delay(attempt, retry_after)
            if self._policy.too_long(retry_after) or self._policy.gives_up(attempt, waited, wait):
                raise GraphError(f"{method} subscriptions: {problem} (gave up)")
            log.info("%s subscriptions: %s; retry in %.2f s", method, problem, wait)
            waited += wait
            await self._sleep(wait)


async def _refresh(token: TokenSupplier) -> None:
    try:
        await token(True)
    except TokenError as exc:
        raise GraphError(f"token refresh after 401 failed: {exc}") from None


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error", {})
        code, message = str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        code, message = response.reason_phrase, response.text
    return code, message[:_MAX_MESSAGE]


def _subscription(item: dict[str, Any]) -> GraphSubscription:
    try:
        expires = datetime.fromisoformat(str(item["expirationDateTime"]).replace("Z", "+00:00"))
        return GraphSubscription(
            id=str(item["id"]),
            resource=str(item.get("resource", "")),
            notification_url=str(item.get("notificationUrl", "")),
            expires_at=expires if expires.tzinfo else expires.replace(tzinfo=UTC),
        )
    except (KeyError, ValueError, TypeError):
        raise GraphError("Graph returned a subscription without id or expiry") from None


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
