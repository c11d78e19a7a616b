"""What the history rules need from the outside world (adapters implement these)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from entrasync_shared.members import MemberType
from entrasync_shared.messages import (
    DeletedTenant,
    DeletedTenantsQuery,
    GuardrailOverride,
    GuardrailOverrideGrant,
    HistoryExportRequest,
    HistoryObjectQuery,
    HistoryObjectsQuery,
    HistoryRow,
    HistoryRunsQuery,
    InventoryCounts,
    InventoryItem,
    ObservationBatch,
    SyncFinished,
    SyncRecorded,
    SyncStarted,
    TenantDeleted,
    TenantsStatusQuery,
    TenantSyncStatus,
)
from entrasync_shared.subjects import ObjectType

from entrasync_history.domain.effective import Path
from entrasync_history.domain.effective_plan import ClosureUpdate, ContainerEdges
from entrasync_history.domain.events import OutgoingEvent, Pending
from entrasync_history.domain.model import StoredObject
from entrasync_history.domain.plans import Key, Tally
from entrasync_history.domain.runs import RunStart


class EffectiveReader(Protocol):
    """What effective membership reads: live containers' edges from the inventory, and the
    stored closure (`effective_ancestors`: each nested group's ancestors with paths)."""

    async def closure_built(self, tenant_id: str) -> bool:
        """Whether the tenant's closure was computed (and is kept up to date since)."""

    async def groups(self, tenant_id: str, ids: Collection[str]) -> list[ContainerEdges]:
        """The live groups among `ids`, with all their members."""

    async def containers(self, tenant_id: str, ids: Collection[str]) -> list[ContainerEdges]:
        """The live containers of any type among `ids`, with all their members."""

    async def holders(self, tenant_id: str, ids: Collection[str]) -> list[ContainerEdges]:
        """The live containers holding one of `ids`, with those of `ids` they hold only."""

    async def role_templates(self, tenant_id: str) -> dict[str, str | None]:
        """The live directory roles: id → roleTemplateId."""

    async def roles(self, tenant_id: str) -> list[ContainerEdges]:
        """The live directory roles with their members, roleTemplateId and displayName."""

    async def ancestors(
        self, tenant_id: str, group_ids: Collection[str]
    ) -> dict[str, dict[str, Path]]:
        """The stored ancestors (id → path) of those of `group_ids` that have some."""

    async def nested_under(
        self, tenant_id: str, container_ids: Collection[str]
    ) -> dict[str, dict[str, Path]]:
        """Every group with one of `container_ids` among its stored ancestors, with all its
        ancestors."""

    def every_container(self, tenant_id: str) -> AsyncIterator[ContainerEdges]:
        """Every live container of the tenant with its members, one at a time."""

    async def names(self, tenant_id: str, ids: Collection[str]) -> dict[str, tuple[str, str]]:
        """Of the live or deleted objects among `ids`: id → (object type, displayName)."""


class HistoryStore(Protocol):
    """Inventory, runs, history rows and applied-batch markers (one database)."""

    @property
    def effective(self) -> EffectiveReader:
        """Effective membership's reads (its writes go with `commit_batch`/`commit_finish`)."""

    async def ensure_indexes(self) -> None: ...

    async def is_applied(self, batch_id: str) -> bool: ...

    async def load(
        self, tenant_id: str, object_type: ObjectType, object_ids: Iterable[str]
    ) -> list[StoredObject]: ...

    async def containers_of(self, tenant_id: str, member_ids: Iterable[str]) -> list[StoredObject]:
        """Containers (`CONTAINER_TYPES`, live or not) with one of `member_ids` among their
        members or hidden ones."""

    async def soft_deleted(
        self, tenant_id: str, members: Mapping[str, MemberType]
    ) -> frozenset[str]:
        """Which of the `members` (id → type; `unknown`: any member type) the inventory holds
        as deleted but maybe restorable (`model.RESTORABLE`: soft-deleted, or unseen by a full
        scan)."""

    async def containers_hiding(
        self, tenant_id: str, member_ids: Iterable[str]
    ) -> list[StoredObject]:
        """Containers (live or not) with one of `member_ids` among their hidden members."""

    async def live_ids(
        self, tenant_id: str, object_type: ObjectType, object_ids: Iterable[str]
    ) -> frozenset[str]:
        """Which of `object_ids` the inventory holds live as `object_type` objects."""

    async def containers_with_pending_members(
        self, tenant_id: str, *, after: Key | None = None, limit: int | None = None
    ) -> list[StoredObject]:
        """Live containers of every type whose `pending_members` are not empty, by (type, id),
        those after `after` and at most `limit` of them — possibly light: only their pending
        members and member types are sure to be there (`load` gives the whole container)."""

    async def settle_pending_members(
        self, tenant_id: str, settled: Mapping[Key, frozenset[str]]
    ) -> None:
        """Take `settled[(type, id)]` out of each container's `pending_members` (checked and
        live: nothing else about it changes), in bulk and outside any transaction."""

    async def commit_batch(
        self,
        batch: ObservationBatch,
        writes: Sequence[StoredObject],
        tallies: Mapping[ObjectType, Tally],
        events: Sequence[OutgoingEvent],
        closure: ClosureUpdate | None = None,
    ) -> list[Pending]:
        """Write the objects and the `closure`, add the tallies to the run's rows, mark the
        batch applied and put `events` in the outbox (after the tenant's earlier ones), all or
        nothing; returns the outbox entries, in order."""

    async def unpublished(self, tenant_id: str) -> list[Pending]:
        """The tenant's events in the outbox, in the order they were committed."""

    async def unpublished_before(self, tenant_id: str, key: str) -> bool:
        """Whether the outbox holds an entry of the tenant committed before entry `key`."""

    async def outbox_tenants(self) -> list[str]:
        """The tenants with events in the outbox."""

    async def mark_published(self, keys: Sequence[str]) -> None:
        """Take these entries (`Pending.key`) out of the outbox: the stream has them."""

    async def record_started(self, started: SyncStarted) -> None:
        """Record a run's attempt as Running; a later attempt keeps the first one's start."""

    async def run_start(self, run_id: str) -> RunStart | None:
        """The run's first recorded start and the highest attempt recorded, if known."""

    async def hold_finish(self, finished: SyncFinished, waits: int) -> None:
        """Keep a finish whose batches are not all applied yet, with how often it waited."""

    async def held_finishes(self, tenant_id: str | None = None) -> list[tuple[SyncFinished, int]]:
        """The finishes held (of `tenant_id`, else of every tenant), with their waits."""

    async def release_finish(self, run_id: str) -> None:
        """Forget the run's held finish (it was recorded)."""

    async def cancel_running(
        self,
        tenant_id: str,
        error: str,
        *,
        started_before: datetime | None = None,
        except_run: str | None = None,
    ) -> list[str]:
        """Mark the tenant's Running runs (those that started before `started_before`, other
        than `except_run`) Cancelled with `error`; returns their run ids."""

    async def purge_tenant(self, tenant_id: str) -> dict[str, int]:
        """Erase everything history holds about a tenant; returns documents removed per
        collection."""

    async def remember_deleted(self, deleted: TenantDeleted) -> None:
        """Record a tenant deleted with its history kept (name, domain, cloud, when)."""

    async def bury(self, tenant_id: str, at: datetime, *, purged: bool) -> None:
        """Remember for good that the tenant was deleted (and whether it was erased): its
        tombstone outlives every purge, so nothing arriving later brings the tenant back."""

    async def buried(self, tenant_id: str) -> bool:
        """Whether the tenant has a tombstone."""

    async def purged_tenants(self) -> list[str]:
        """The tenants whose deletion erased their data."""

    async def applied_batches(self, run_id: str) -> dict[tuple[ObjectType, int], int]:
        """How many batches of the run were applied, per (object type, attempt)."""

    async def count_live(self, tenant_id: str, object_type: ObjectType) -> int: ...

    async def count_unseen(
        self,
        tenant_id: str,
        object_type: ObjectType,
        run_id: str,
        started_at: datetime,
        attempt: int = 1,
    ) -> int:
        """Live objects neither seen by this attempt of `run_id` nor by anything produced since
        it started (a retried run's earlier attempts don't count: the directory may have moved)."""

    async def unseen(
        self,
        tenant_id: str,
        object_type: ObjectType,
        run_id: str,
        started_at: datetime,
        attempt: int = 1,
    ) -> list[StoredObject]: ...

    async def containers_with_unconfirmed_members(
        self, tenant_id: str, run_id: str, attempt: int, object_types: Sequence[ObjectType]
    ) -> list[StoredObject]:
        """Live containers of `object_types` this attempt of `run_id` saw whose members (live
        or hidden) it did not all confirm."""

    async def accumulated(self, run_id: str) -> dict[ObjectType, Tally]: ...

    async def recorded(self, run_id: str) -> SyncRecorded | None: ...

    async def active_overrides(
        self, tenant_id: str, now: datetime
    ) -> dict[ObjectType, GuardrailOverride]:
        """Guardrail overrides granted, not yet used and not expired, per object type."""

    async def commit_finish(
        self,
        recorded: SyncRecorded,
        writes: Sequence[StoredObject],
        events: Sequence[OutgoingEvent],
        closure: ClosureUpdate | None = None,
    ) -> list[Pending]:
        """Write the objects, the `closure`, the final rows, the run and the tenant's last
        sync, mark the
        guardrail overrides the run used (`TypeCounts.guardrail_override`) and put `events` in
        the outbox, all or nothing; returns the outbox entries, in order."""

    async def ping(self) -> None: ...


class HistoryQueries(Protocol):
    """What the request-reply API reads (and the one thing it writes: overrides)."""

    async def history_rows(
        self, query: HistoryRunsQuery, now: datetime
    ) -> tuple[list[HistoryRow], int]: ...

    async def export_chunk(
        self, request: HistoryExportRequest, now: datetime
    ) -> tuple[list[HistoryRow], str | None]:
        """Up to `max_rows` rows after `request.after`, and the cursor of the next chunk."""

    async def inventory(self, query: HistoryObjectsQuery) -> tuple[list[InventoryItem], int]: ...

    async def inventory_item(self, query: HistoryObjectQuery) -> InventoryItem | None: ...

    async def inventory_counts(self, tenant_id: str) -> InventoryCounts: ...

    async def tenants_status(self, query: TenantsStatusQuery) -> list[TenantSyncStatus]: ...

    async def grant_override(
        self, grant: GuardrailOverrideGrant, now: datetime
    ) -> list[GuardrailOverride]: ...

    async def deleted_tenants(self, query: DeletedTenantsQuery) -> list[DeletedTenant]: ...


class EventPublisher(Protocol):
    """Publishes public events and waits until the stream has stored each one."""

    async def publish(self, events: Sequence[OutgoingEvent]) -> None: ...


class DeadLetters(Protocol):
    """Parks a message that cannot be read, with the reason, for an operator to look at."""

    async def park(self, payload: bytes, subject: str, reason: str, msg_id: str) -> None: ...
