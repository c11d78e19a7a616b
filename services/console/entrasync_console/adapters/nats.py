"""The other services' request-reply APIs over NATS: `kit.ApiClient`, typed by the catalog."""

from __future__ import annotations

from typing import TypeVar

from entrasync_shared.catalog import Endpoint
from entrasync_shared.kit.api import ApiClient
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from pydantic import BaseModel

ReqT = TypeVar("ReqT", bound=BaseModel)
ResT = TypeVar("ResT")

TEST_GRACE = 5.0
"""Seconds the console waits for a Test Connection beyond the test's own limit: config bounds the
test by that limit, then still has to answer."""


class NatsServices:
    """Implements `ports.Services` with `ApiClient`; every failure is an `ApiCallError`.

    `timeout` bounds ordinary calls. `slow` endpoints (Test Connection) wait for the request's
    own `timeout_seconds`, else `test_timeout`, plus `TEST_GRACE`.
    """

    def __init__(self, nc: NatsClient, names: Names, timeout: float, test_timeout: float) -> None:
        self._client = ApiClient(
            lambda: nc, names, timeout=timeout, slow_timeout=test_timeout + TEST_GRACE
        )

    @property
    def connected(self) -> bool:
        return self._client.connected

    async def call(
        self,
        endpoint: Endpoint[ReqT, ResT],
        request: ReqT | None = None,
        *,
        timeout: float | None = None,
    ) -> ResT:
        if timeout is None and endpoint.slow:
            asked = getattr(request, "timeout_seconds", None)
            timeout = asked + TEST_GRACE if asked else None
        return await self._client.call(endpoint, request, timeout=timeout)
