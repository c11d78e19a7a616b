"""What the sync flow needs from the outside world, as roles; adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from entrasync_shared.messages import (
    CloudEndpoints,
    Credential,
    ObservationBatch,
    SubscriptionRecord,
    SyncFinished,
    SyncStarted,
)
from entrasync_shared.subjects import ObjectType

from entrasync_syncer.domain import Cursor
from entrasync_syncer.domain.subscriptions import GraphSubscription


class TenantGone(Exception):
    """Config no longer knows the tenant (deleted since the command was issued)."""


class TenantDeletedMidRun(Exception):
    """Config deleted the tenant while its run was going on: stop reading and publishing."""


class CredentialRefused(Exception):
    """Config answered, but refused to hand out a credential (a business error)."""


class InfrastructureError(Exception):
    """NATS (or another dependency of ours) failed transiently: retry the whole command later."""


class TokenError(Exception):
    """The identity platform refused a token; the message is safe to log and publish."""


class GraphError(Exception):
    """A Graph request failed for good; the message is safe to log and publish."""


class SubscriptionRefused(GraphError):
    """Graph refused a subscription request (4xx); the message says what to do."""


class SubscriptionGone(GraphError):
    """Graph no longer has the subscription (404: expired or removed)."""


class DeltaLinkExpired(GraphError):
    """Graph no longer accepts the link (expired, reset or garbled): start a full round."""


class LeaseHeld(Exception):
    """Another run of the same tenant is going on (one run per tenant at a time)."""


class RunAlreadyDone(Exception):
    """This run already finished (its command was delivered again): nothing to do."""


class LeaseLost(InfrastructureError):
    """Our lease was taken over (it expired): stop, another worker owns the tenant now."""


@dataclass(frozen=True)
class DeltaPage:
    """One page of a delta round: entries plus exactly one of the two links.

    The entries are the reader's to consume: each page is freshly parsed, and the syncer takes
    the entries' dicts over as attributes instead of copying them."""

    entries: list[Any]
    next_link: str | None
    delta_link: str | None


TokenSupplier = Callable[[bool], Awaitable[str]]
"""`await supplier(fresh)` returns a bearer token; `fresh=True` bypasses any cache."""


@dataclass
class RequestStats:
    """What reading one object type cost: requests sent, throttling answers waited out, and
    the seconds spent waiting for them (its own and the run's other types' `Retry-After`)."""

    requests: int = 0
    throttled: int = 0
    throttle_wait: float = 0.0


@dataclass(frozen=True)
class Lease:
    """A held run lease: which tenant and run, and the store's revision to renew it from."""

    tenant_id: str
    run_id: str
    revision: int


class CredentialSource(Protocol):
    async def credential(self, tenant_id: str) -> Credential: ...


class DeletionWatch(Protocol):
    """Which tenants config has deleted, as announced by its `tenant.deleted` events."""

    def deleted(self, tenant_id: str) -> bool: ...


class DeletionLog(DeletionWatch, Protocol):
    """The same, written to as the events arrive."""

    def add(self, tenant_id: str) -> None: ...


class TokenSource(Protocol):
    async def token(self, credential: Credential, *, fresh: bool = False) -> str: ...


class GraphReader(Protocol):
    async def page(
        self, url: str, token: TokenSupplier, stats: RequestStats | None = None
    ) -> DeltaPage: ...


class GraphConnector(Protocol):
    def open(self, cloud: CloudEndpoints) -> AbstractAsyncContextManager[GraphReader]: ...


class CursorStore(Protocol):
    async def get(self, tenant_id: str, object_type: ObjectType) -> Cursor | None: ...

    async def put(
        self, tenant_id: str, object_type: ObjectType, delta_link: str, scope: str = ""
    ) -> None: ...

    async def discard(self, tenant_id: str, object_type: ObjectType) -> None: ...


class RunLeases(Protocol):
    """One run per tenant at a time, across every syncer replica."""

    async def acquire(self, tenant_id: str, run_id: str) -> Lease:
        """Take the tenant for `run_id`; raises LeaseHeld or RunAlreadyDone."""
        ...

    async def renew(self, lease: Lease) -> Lease:
        """Extend the lease; raises LeaseLost when someone else took it."""
        ...

    async def release(self, lease: Lease, *, done: bool) -> None:
        """Give the tenant back; `done` remembers the run so a redelivery does not repeat it."""
        ...


class RunPublisher(Protocol):
    """Publishes and waits for JetStream's acknowledgement; raises InfrastructureError."""

    async def started(self, event: SyncStarted) -> None: ...

    async def batch(self, batch: ObservationBatch) -> None: ...

    async def finished(self, event: SyncFinished) -> None: ...


class SubscriptionApi(Protocol):
    """Graph's `/v1.0/subscriptions` for one tenant's token; `GraphError` when Graph fails,
    `SubscriptionRefused` for a 4xx, `SubscriptionGone` for a 404."""

    async def list(self, token: TokenSupplier) -> list[GraphSubscription]: ...

    async def create(self, body: dict[str, Any], token: TokenSupplier) -> GraphSubscription: ...

    async def renew(
        self, subscription_id: str, expires_at: datetime, token: TokenSupplier
    ) -> GraphSubscription: ...

    async def reauthorize(self, subscription_id: str, token: TokenSupplier) -> None: ...

    async def delete(self, subscription_id: str, token: TokenSupplier) -> None:
        """Delete it; one Graph no longer has is fine."""
        ...


class SubscriptionConnector(Protocol):
    def open(self, cloud: CloudEndpoints) -> AbstractAsyncContextManager[SubscriptionApi]: ...


class SubscriptionStore(Protocol):
    """The `subscriptions` KV bucket; raises InfrastructureError when NATS fails."""

    async def of_tenant(self, tenant_id: str) -> list[SubscriptionRecord]: ...

    async def put(self, record: SubscriptionRecord) -> None: ...

    async def drop(self, subscription_id: str) -> None: ...
