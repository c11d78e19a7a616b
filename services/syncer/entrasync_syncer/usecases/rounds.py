"""One object type of a run: walk its delta round page by page and publish each page.

Memory stays bounded whatever the tenant's size: at most two pages are held (the one being
published and the next one, fetched meanwhile), plus the ids seen so far. A page becomes one
batch, or several when its member slices would exceed a NATS message. The new deltaLink is
stored only once every batch of the round has been acknowledged by JetStream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from entrasync_shared.messages import (
    ObservationBatch,
    ObservedObject,
    Removal,
    StartSync,
    SyncMode,
    SyncReason,
    TypeResult,
)
from entrasync_shared.storable import unstorable
from entrasync_shared.subjects import FULL_LIST_TYPES, ObjectType

from entrasync_syncer.domain import batch_id, full_round_url, plan_type
from entrasync_syncer.domain.filters import FilterTally, Scope
from entrasync_syncer.domain.pages import PageReader, compact_members, page_weight, split_batch
from entrasync_syncer.ports import (
    CursorStore,
    DeletionWatch,
    DeltaLinkExpired,
    DeltaPage,
    GraphError,
    GraphReader,
    RequestStats,
    RunPublisher,
    TenantDeletedMidRun,
    TokenSupplier,
)

log = logging.getLogger("entrasync.syncer")


@dataclass
class TypeRun:
    command: StartSync
    object_type: ObjectType
    attempt: int
    graph: GraphReader
    token: TokenSupplier
    cursors: CursorStore
    publisher: RunPublisher
    scope: Scope
    graph_url: str
    link_lifetime: timedelta
    max_batch_bytes: int = 512 * 1024
    entra_tenant_id: str | None = None
    deletions: DeletionWatch | None = None
    # When this attempt began: with attempt and seq, the order history applies batches in.
    started_at: datetime | None = None
    reader: PageReader = field(default_factory=PageReader)
    filtered: FilterTally = field(default_factory=FilterTally)
    stats: RequestStats = field(default_factory=RequestStats)
    batches: int = 0
    pages: int = 0
    deleted: int = 0
    # Pages of observations held back to go out as one batch (up to `max_batch_bytes`): every
    # batch costs history a fixed number of database round trips, whatever its size.
    held: list[ObservedObject] = field(default_factory=list)
    held_weight: int = 0

    async def run(self) -> TypeResult:
        tenant_id = self.command.tenant_id
        cursor = None
        if self.command.mode == "delta" and self.object_type not in FULL_LIST_TYPES:
            cursor = await self.cursors.get(tenant_id, self.object_type)
        plan = plan_type(
            self.command.mode,
            self.command.reason,
            cursor,
            object_type=self.object_type,
            graph_url=self.graph_url,
            scope=self.scope.digest_of(self.object_type),
            link_lifetime=self.link_lifetime,
        )
        if plan.note and cursor is not None:
            log.warning("run %s: %s: %s; full round", self.command.run_id, self._what, plan.note)
        mode, reason = plan.mode, plan.reason
        try:
            try:
                link = await self._walk(plan.url, mode)
            except DeltaLinkExpired as exc:
                await self._flush(mode)  # what was read goes out, as when pages went one by one
                run_id = self.command.run_id
                log.warning("run %s: %s unusable (%s); full round", run_id, self._what, exc)
                await self.cursors.discard(tenant_id, self.object_type)
                mode, reason = "full", "resync"
                self.reader.reset()
                self.filtered.reset()
                link = await self._walk(full_round_url(self.graph_url, self.object_type), mode)
        except GraphError as exc:
            await self._flush(mode)  # the pages read before the failure still go out
            return self._result(mode, reason, error=str(exc))
        if link is not None:
            await self.cursors.put(
                tenant_id, self.object_type, link, self.scope.digest_of(self.object_type)
            )
        if self.reader.skipped:
            log.warning(
                "run %s: skipped %d %s entries without an id",
                self.command.run_id,
                self.reader.skipped,
                self.object_type,
            )
        return self._result(mode, reason)

    @property
    def _what(self) -> str:
        return f"{self.object_type} link of tenant {self.command.tenant_id}"

    async def _walk(self, url: str, mode: SyncMode) -> str | None:
        """Follow one round to its end, publishing page by page; return the deltaLink (None
        for a type without delta, whose list ends on a page without nextLink).

        The next page is fetched while the current one is published.
        """
        listed = self.object_type in FULL_LIST_TYPES
        fetch = asyncio.create_task(self._page(url))
        try:
            while True:
                page = await fetch
                self.pages += 1
                if page.delta_link or (listed and not page.next_link):
                    await self._publish(page, mode)
                    await self._flush(mode)
                    return page.delta_link
                if not page.next_link:
                    raise GraphError("Graph page without @odata.nextLink or @odata.deltaLink")
                fetch = asyncio.create_task(self._page(page.next_link))
                await self._publish(page, mode)
        finally:
            if not fetch.done():
                fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetch

    def _stop_if_deleted(self) -> None:
        """Before each page is read and before each is published: a tenant deleted meanwhile
        gets no further Graph request and no further batch."""
        tenant_id = self.command.tenant_id
        if self.deletions is not None and self.deletions.deleted(tenant_id):
            raise TenantDeletedMidRun(f"tenant {tenant_id} was deleted during the run")

    async def _page(self, url: str) -> DeltaPage:
        self._stop_if_deleted()
        page = await self.graph.page(url, self.token, self.stats)
        compact_members(page.entries)  # shrinks the page while it waits for its turn
        return page

    async def _publish(self, page: DeltaPage, mode: SyncMode) -> None:
        self._stop_if_deleted()
        objects, removals = self.reader.read(page.entries)
        page.entries.clear()  # the raw entries (member dicts above all) are no longer needed
        self.deleted += len(removals)
        objects = self.filtered.apply(self.scope, self.object_type, mode, objects, removals)
        self._refuse_unstorable(objects)
        if removals:  # kept in page order: observations and removals are never merged
            await self._flush(mode)
            await self._send(split_batch(objects, removals, self.max_batch_bytes), mode)
            return
        weight = page_weight(objects)
        if weight is None or self.held_weight + weight > self.max_batch_bytes:
            await self._flush(mode)
        if weight is None or weight > self.max_batch_bytes:
            await self._send(split_batch(objects, [], self.max_batch_bytes), mode)
            return
        self.held += objects
        self.held_weight += weight

    async def _flush(self, mode: SyncMode) -> None:
        """Publish the held pages as one batch (they fit: each was weighed as it came)."""
        if self.held:
            held, self.held, self.held_weight = self.held, [], 0
            await self._send([(held, [])], mode)

    async def _send(
        self, batches: list[tuple[list[ObservedObject], list[Removal]]], mode: SyncMode
    ) -> None:
        self._stop_if_deleted()
        for kept, removed in batches:
            seq = self.batches
            await self.publisher.batch(
                ObservationBatch(
                    id=batch_id(self.command.run_id, self.object_type, seq, self.attempt),
                    run_id=self.command.run_id,
                    tenant_id=self.command.tenant_id,
                    object_type=self.object_type,
                    seq=seq,
                    attempt=self.attempt,
                    started_at=self.started_at,
                    mode=mode,
                    objects=tuple(kept),
                    removals=tuple(removed),
                    entra_tenant_id=self.entra_tenant_id,
                )
            )
            self.batches += 1

    def _refuse_unstorable(self, objects: list[ObservedObject]) -> None:
        """Fail the round on an object MongoDB cannot store (a NUL in a key, a number beyond 64
        bits, ...). Not dropped: a full round would then report the object deleted, and a delta
        round would lose its change for good; failing keeps the inventory exact (the deltaLink
        is not advanced) and says why in Sync History."""
        for obj in objects:
            problem = unstorable(obj.attributes)
            if problem is not None:
                raise GraphError(
                    f"Graph returned {self.object_type} {obj.id!r} with attributes that cannot "
                    f"be stored ({problem})"
                )

    def _result(self, mode: SyncMode, reason: SyncReason, error: str | None = None) -> TypeResult:
        return TypeResult(
            object_type=self.object_type,
            mode=mode,
            reason=reason,
            status="Failed" if error else "Succeeded",
            total=self.reader.total - self.filtered.count,
            filtered=self.filtered.count,
            batches=self.batches,
            error=error,
            deleted=self.deleted,
            pages=self.pages,
            requests=self.stats.requests,
            throttled=self.stats.throttled,
            throttled_seconds=round(self.stats.throttle_wait, 3),
        )
