"""Dict-backed fakes of the syncer's ports, for driving `sync_tenant` without I/O."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from entrasync_shared.messages import (
    CloudEndpoints,
    Credential,
    ObservationBatch,
    SyncFinished,
    SyncStarted,
)
from entrasync_shared.subjects import ObjectType
from entrasync_syncer.domain import Cursor
from entrasync_syncer.ports import (
    DeltaPage,
    GraphError,
    InfrastructureError,
    Lease,
    LeaseHeld,
    LeaseLost,
    RequestStats,
    RunAlreadyDone,
    TenantGone,
    TokenError,
    TokenSupplier,
)
from entrasync_syncer.usecases.sync import Deps, RunOptions

GRAPH = "https://graph.test"


def credential(tenant_id: str = "t1") -> Credential:
    return Credential(
        tenant_id=tenant_id,
        tenant="contoso.onmicrosoft.com",
        client_id="00000000-0000-4000-8000-000000000001",
        client_secret="s3cret-value",
        cloud=CloudEndpoints(name="lab", authority_host="https://login.test", graph_url=GRAPH),
        object_types=("user", "group", "device"),
    )


@dataclass
class FakeCredentials:
    known: dict[str, Credential] = field(default_factory=dict)
    unavailable: bool = False

    async def credential(self, tenant_id: str) -> Credential:
        if self.unavailable:
            raise InfrastructureError("config unavailable")
        if tenant_id not in self.known:
            raise TenantGone(f"tenant {tenant_id} no longer exists in config")
        return self.known[tenant_id]


@dataclass
class FakeTokens:
    refuse: str | None = None
    issued: int = 0

    async def token(self, credential: Credential, *, fresh: bool = False) -> str:
        if self.refuse:
            raise TokenError(self.refuse)
        self.issued += 1
        return f"token-{self.issued}"


@dataclass
class FakeGraph:
    """Pages by URL; a value that is an exception is raised when that URL is read."""

    pages: dict[str, dict[str, Any] | Exception] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)

    def serve(self, url: str, entries: list[Any], next_url: str | None = None) -> None:
        """Serve `entries` at `url`; the page links to `next_url`, else to a deltaLink."""
        body: dict[str, Any] = {"value": entries}
        if next_url:
            body["next"] = next_url
        else:
            body["delta"] = f"{url}#delta"
        self.pages[url] = body

    async def page(
        self, url: str, token: TokenSupplier, stats: RequestStats | None = None
    ) -> DeltaPage:
        await token(False)
        self.requested.append(url)
        if stats is not None:
            stats.requests += 1
        page = self.pages.get(url, GraphError(f"404 no page at {url}"))
        if isinstance(page, Exception):
            raise page
        # A fresh copy, as a parsed HTTP response is: the reader consumes the entries.
        return DeltaPage(copy.deepcopy(page["value"]), page.get("next"), page.get("delta"))

    @asynccontextmanager
    async def open(self, cloud: CloudEndpoints) -> AsyncIterator[FakeGraph]:
        yield self


@dataclass
class FakeCursors:
    """Links by (tenant, type); `stored` keeps the full cursors (time and scope)."""

    links: dict[tuple[str, str], str] = field(default_factory=dict)
    stored: dict[tuple[str, str], Cursor] = field(default_factory=dict)
    discarded: list[tuple[str, str]] = field(default_factory=list)

    async def get(self, tenant_id: str, object_type: ObjectType) -> Cursor | None:
        link = self.links.get((tenant_id, object_type))
        if link is None:
            return None
        known = self.stored.get((tenant_id, object_type))
        return known if known and known.delta_link == link else Cursor(link, datetime.now(UTC))

    async def put(
        self, tenant_id: str, object_type: ObjectType, delta_link: str, scope: str = ""
    ) -> None:
        self.links[(tenant_id, object_type)] = delta_link
        self.stored[(tenant_id, object_type)] = Cursor(delta_link, datetime.now(UTC), scope)

    async def discard(self, tenant_id: str, object_type: ObjectType) -> None:
        self.discarded.append((tenant_id, object_type))
        self.links.pop((tenant_id, object_type), None)


@dataclass
class FakePublisher:
    log: list[SyncStarted | ObservationBatch | SyncFinished] = field(default_factory=list)
    fail_batches: bool = False

    async def started(self, event: SyncStarted) -> None:
        self.log.append(event)

    async def batch(self, batch: ObservationBatch) -> None:
        if self.fail_batches:
            raise InfrastructureError("no PubAck")
        self.log.append(batch)

    async def finished(self, event: SyncFinished) -> None:
        self.log.append(event)

    def batches(self, object_type: ObjectType | None = None) -> list[ObservationBatch]:
        return [
            m
            for m in self.log
            if isinstance(m, ObservationBatch) and object_type in (None, m.object_type)
        ]

    @property
    def finished_event(self) -> SyncFinished:
        (event,) = [m for m in self.log if isinstance(m, SyncFinished)]
        return event


@dataclass
class FakeLeases:
    """Leases by tenant: (run id, state); `held_by` simulates another worker's run."""

    leases: dict[str, tuple[str, str]] = field(default_factory=dict)
    held_by: dict[str, str] = field(default_factory=dict)
    renewals: int = 0
    lose_on_renew: bool = False

    async def acquire(self, tenant_id: str, run_id: str) -> Lease:
        if tenant_id in self.held_by:
            raise LeaseHeld(f"run {self.held_by[tenant_id]} holds tenant {tenant_id}")
        if self.leases.get(tenant_id) == (run_id, "done"):
            raise RunAlreadyDone(f"run {run_id} already finished")
        self.leases[tenant_id] = (run_id, "running")
        return Lease(tenant_id, run_id, 1)

    async def renew(self, lease: Lease) -> Lease:
        if self.lose_on_renew:
            raise LeaseLost("taken over")
        self.renewals += 1
        return Lease(lease.tenant_id, lease.run_id, lease.revision + 1)

    async def release(self, lease: Lease, *, done: bool) -> None:
        if done:
            self.leases[lease.tenant_id] = (lease.run_id, "done")
        else:
            self.leases.pop(lease.tenant_id, None)


@dataclass
class FakeDeletions:
    """Tenants announced deleted; `after_pages` deletes `tenant_id` once that many Graph pages
    were requested (a deletion that arrives in the middle of a run)."""

    ids: set[str] = field(default_factory=set)
    graph: FakeGraph | None = None
    after_pages: int | None = None
    tenant_id: str = "t1"

    def deleted(self, tenant_id: str) -> bool:
        if self.graph is not None and self.after_pages is not None:
            if len(self.graph.requested) >= self.after_pages:
                self.ids.add(self.tenant_id)
        return tenant_id in self.ids


@dataclass
class Fakes:
    credentials: FakeCredentials = field(default_factory=FakeCredentials)
    tokens: FakeTokens = field(default_factory=FakeTokens)
    graph: FakeGraph = field(default_factory=FakeGraph)
    cursors: FakeCursors = field(default_factory=FakeCursors)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    leases: FakeLeases = field(default_factory=FakeLeases)
    deletions: FakeDeletions = field(default_factory=FakeDeletions)
    options: RunOptions = field(
        default_factory=lambda: RunOptions(lease_wait=0.2, lease_poll=0.05, lease_renew=0.05)
    )

    def deps(self) -> Deps:
        return Deps(
            self.credentials,
            self.tokens,
            self.graph,
            self.cursors,
            self.publisher,
            self.leases,
            self.deletions,
            self.options,
        )
