"""What the console needs from the other services: any catalog endpoint, called by its
declaration (`adapters.nats.NatsServices` provides it over NATS); and the stored public events
(`adapters.events.JetStreamEvents` reads them from JetStream).

    tenant = await services.call(ConfigApi.tenant_get, TenantRef(tenant_id=...))

The endpoint types the call: its request model goes in, its reply type comes out. Every failure
is an `entrasync_shared.natsutil.ApiCallError` whose code is one of `catalog.ERROR_CODES`
(`unavailable` / `timeout` when nobody answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

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


@dataclass(frozen=True)
class StoredEvents:
    """Public events (CloudEvents envelopes), oldest first; `complete` is false when older
    matching ones were left unread to keep within the limit."""

    events: list[dict[str, Any]]
    complete: bool


class EventLog(Protocol):
    """The public events history published, as the events stream keeps them (30 days)."""

    async def newest(self, subjects: tuple[str, ...], since: datetime, limit: int) -> StoredEvents:
        """The events on `subjects` (NATS wildcards) published since `since`: all of them, or
        the newest `limit`."""
        ...
