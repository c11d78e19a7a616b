"""What the console needs from the other services: any catalog endpoint, called by its
declaration (`adapters.nats.NatsServices` provides it over NATS).

    tenant = await services.call(ConfigApi.tenant_get, TenantRef(tenant_id=...))

The endpoint types the call: its request model goes in, its reply type comes out. Every failure
is an `entrasync_shared.natsutil.ApiCallError` whose code is one of `catalog.ERROR_CODES`
(`unavailable` / `timeout` when nobody answers).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from entrasync_shared.catalog import Endpoint
from pydantic import BaseModel

ReqT = TypeVar("ReqT", bound=BaseModel)
ResT = TypeVar("ResT")


class Services(Protocol):
    """The other services' request-reply APIs."""

    @property
    def connected(self) -> bool: ...

    async def call(
        self,
        endpoint: Endpoint[ReqT, ResT],
        request: ReqT | None = None,
        *,
        timeout: float | None = None,
    ) -> ResT:
        """Ask `endpoint` (no request for `NoArguments` verbs); `timeout` overrides the
        client's own wait."""
        ...
