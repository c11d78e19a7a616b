"""`MongoHistoryStore`: inventory, runs, history rows and batch markers in MongoDB.

Every write that must be all-or-nothing (a batch's objects, counts, marker and events; a run's
final rows, objects, run document and events) runs in one multi-document transaction. Events go
to the `outbox` collection there, and leave it once the events stream has them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from entrasync_shared.members import MemberType
from entrasync_shared.messages import (
    GuardrailOverride,
    ObservationBatch,
    SyncFinished,
    SyncRecorded,
    SyncStarted,
    TenantDeleted,
)
from entrasync_shared.subjects import CONTAINER_TYPES, ObjectType
from pymongo import ASCENDING, AsyncMongoClient, IndexModel, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from entrasync_history.adapters.documents import (
    final_row,
    member_keys,
    object_document,
    object_key,
    override_from,
    recorded_document,
    recorded_from,
    row_key,
    run_start,
    stored_object,
    utc,
)
from entrasync_history.adapters.effective import MongoEffective
from entrasync_history.adapters.outbox import (
    committed,
    document_ids,
    outbox_documents,
    read_back,
)
from entrasync_history.adapters.rows import MongoRows
from entrasync_history.domain.effective_plan import ClosureUpdate
from entrasync_history.domain.events import OutgoingEvent, Pending
from entrasync_history.domain.model import RESTORABLE, StoredObject, confirmation_key
from entrasync_history.domain.plans import Tally
from entrasync_history.domain.runs import RunStart
from entrasync_history.domain.search import run_has_changes

APPLIED_MARKER_TTL = timedelta(days=7)
"""Longer than the pipeline stream keeps messages, so no redelivery outlives its marker."""
OVERRIDE_KEPT = timedelta(days=30)
"""How long a used or expired guardrail override stays for audit."""
NEW_ROW = {"changed": 0, "deleted": 0, "total": 0, "filtered": 0}


def _now() -> datetime:
    return datetime.now(UTC)


def _progress(batch: ObservationBatch, object_type: ObjectType) -> dict[str, int]:
    """What a batch adds to its own type's progress counts (nothing to other types' rows)."""
    if object_type != batch.object_type:
        return {}
    return {"received": len(batch.objects) + len(batch.removals), "pages": 1}


SETTLE_CHUNK = 1_000
"""Groups per bulk write when a finish settles the pending members it found live."""


class MongoHistoryStore:
    def __init__(
        self, client: AsyncMongoClient[dict[str, Any]], database: str, retention_days: int
    ) -> None:
        self._client = client
        db = client[database]
        self.rows = MongoRows(db, retention_days)
        self._inventory = db["inventory"]
        self._runs = db["runs"]
        self._tenants = db["tenants"]
        self._applied = db["applied_batches"]
        self._overrides = db["guardrail_overrides"]
        self._deleted_tenants = db["deleted_tenants"]
        # Never purged: a deleted tenant stays deleted (its pipeline messages are dropped).
        self._tombstones = db["tenant_tombstones"]
        self._outbox = db["outbox"]
        self.effective = MongoEffective(db)

    async def ensure_indexes(self) -> None:
        await self._inventory.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("object_type", ASCENDING),
                            ("object_id", ASCENDING)], unique=True),
                IndexModel([("tenant_id", ASCENDING), ("object_type", ASCENDING),
                            ("deleted", ASCENDING), ("last_seen_run", ASCENDING)]),
                IndexModel([("tenant_id", ASCENDING), ("object_type", ASCENDING),
                            ("confirmed_run", ASCENDING)]),
                IndexModel([("tenant_id", ASCENDING), ("members", ASCENDING)]),
                IndexModel([("tenant_id", ASCENDING), ("hidden_members", ASCENDING)]),
                # Only groups with pending members: looked up at every run's finish.
                IndexModel([("tenant_id", ASCENDING), ("object_type", ASCENDING),
                            ("deleted", ASCENDING)], name="pending_groups",
                           partialFilterExpression={"pending_members.0": {"$exists": True}}),
            ]
        )  # fmt: skip
        await self.rows.ensure_indexes()
        await self.effective.ensure_indexes()
        await self._runs.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING)]),
                # Only runs holding a finish: looked up after every batch and every second.
                IndexModel([("held_finish.waits", ASCENDING)], sparse=True, name="held_finishes"),
            ]
        )
        await self._applied.create_indexes(
            [
                IndexModel([("run_id", ASCENDING), ("object_type", ASCENDING)]),
                IndexModel([("tenant_id", ASCENDING)]),  # purges and their sweeps
                IndexModel(
                    [("applied_at", ASCENDING)],
                    expireAfterSeconds=int(APPLIED_MARKER_TTL.total_seconds()),
                ),
            ]
        )
        await self._outbox.create_indexes(
            [IndexModel([("tenant_id", ASCENDING), ("_id", ASCENDING)])]
        )
        await self._overrides.create_indexes(
            [
                IndexModel(
                    [("expires_at", ASCENDING)],
                    expireAfterSeconds=int(OVERRIDE_KEPT.total_seconds()),
                )
            ]
        )

    async def ping(self) -> None:
        await self._client.admin.command("ping")

    async def _transaction(self, work: Callable[[AsyncClientSession], Awaitable[Any]]) -> None:
        async with self._client.start_session() as session:
            await session.with_transaction(work)

    # -- batches ------------------------------------------------------------------------------

    async def is_applied(self, batch_id: str) -> bool:
        return await self._applied.find_one({"_id": batch_id}, {"_id": 1}) is not None

    async def load(
        self, tenant_id: str, object_type: ObjectType, object_ids: Iterable[str]
    ) -> list[StoredObject]:
        keys = [object_key(tenant_id, object_type, oid) for oid in object_ids]
        if not keys:
            return []
        return [stored_object(doc) async for doc in self._inventory.find({"_id": {"$in": keys}})]

    async def containers_of(self, tenant_id: str, member_ids: Iterable[str]) -> list[StoredObject]:
        ids = sorted(member_ids)
        if not ids:
            return []
        # One query for every container type (the member indexes lead; the type filters).
        query = {
            "tenant_id": tenant_id,
            "object_type": {"$in": list(CONTAINER_TYPES)},
            "$or": [{"members": {"$in": ids}}, {"hidden_members": {"$in": ids}}],
        }
        return [stored_object(doc) async for doc in self._inventory.find(query)]

    async def containers_hiding(
        self, tenant_id: str, member_ids: Iterable[str]
    ) -> list[StoredObject]:
        ids = sorted(member_ids)
        if not ids:
            return []
        query = {
            "tenant_id": tenant_id,
            "object_type": {"$in": list(CONTAINER_TYPES)},
            "hidden_members": {"$in": ids},
        }
        return [stored_object(doc) async for doc in self._inventory.find(query)]

    async def live_ids(
        self, tenant_id: str, object_type: ObjectType, object_ids: Iterable[str]
    ) -> frozenset[str]:
        keys = [object_key(tenant_id, object_type, oid) for oid in object_ids]
        if not keys:
            return frozenset()
        query = {"_id": {"$in": keys}, "deleted": False}
        found = self._inventory.find(query, {"object_id": 1})
        return frozenset([doc["object_id"] async for doc in found])

    async def containers_with_pending_members(
        self,
        tenant_id: str,
        *,
        after: tuple[ObjectType, str] | None = None,
        limit: int | None = None,
    ) -> list[StoredObject]:
        query: dict[str, Any] = {
            "tenant_id": tenant_id,
            "object_type": {"$in": list(CONTAINER_TYPES)},
            "deleted": False,
            "pending_members.0": {"$exists": True},
        }
        if after is not None:
            # `_id` is "<tenant>:<type>:<id>": its order is (type, id), the port's.
            query["_id"] = {"$gt": object_key(tenant_id, *after)}
        # Light: after a big first load this is every group of the tenant, with every edge
        # pending; their member lists and attributes would cost hundreds of MB (`make bench`:
        # 780 MB at the finish of a 170k-object load). The check needs pending ids and types.
        light = {"attributes": 0, "members": 0, "hidden_members": 0, "confirmed_members": 0}
        found = self._inventory.find(query, light).sort("_id", ASCENDING).limit(limit or 0)
        return [stored_object(doc) async for doc in found]

    async def settle_pending_members(
        self, tenant_id: str, settled: Mapping[tuple[ObjectType, str], frozenset[str]]
    ) -> None:
        updates = [
            UpdateOne(
                {"_id": object_key(tenant_id, object_type, container_id)},
                {"$pull": {"pending_members": {"$in": sorted(members)}}},
            )
            for (object_type, container_id), members in sorted(settled.items())
            if members
        ]
        for start in range(0, len(updates), SETTLE_CHUNK):
            await self._inventory.bulk_write(updates[start : start + SETTLE_CHUNK], ordered=False)

    async def soft_deleted(
        self, tenant_id: str, members: Mapping[str, MemberType]
    ) -> frozenset[str]:
        # By `_id`, so each id is a point lookup (an untyped member: one per member type).
        keys = member_keys(tenant_id, members)
        if not keys:
            return frozenset()
        query = {"_id": {"$in": keys}, "deletion": {"$in": list(RESTORABLE)}}
        return frozenset([doc["object_id"] async for doc in self._inventory.find(query)])

    async def commit_batch(
        self,
        batch: ObservationBatch,
        writes: Sequence[StoredObject],
        tallies: Mapping[ObjectType, Tally],
        events: Sequence[OutgoingEvent] = (),
        closure: ClosureUpdate | None = None,
    ) -> list[Pending]:
        now = _now()
        outboxed = outbox_documents(batch.tenant_id, events, now)

        async def write(session: AsyncClientSession) -> None:
            await self._write_objects(writes, now, session)
            if closure is not None:
                await self.effective.write(batch.tenant_id, closure, now, session)
            await self._enqueue(outboxed, session)
            for object_type, tally in tallies.items():
                await self.rows.add_tallies(
                    row_key(batch.run_id, object_type),
                    tally.changed,
                    tally.deleted,
                    {"tenant_id": batch.tenant_id, "run_id": batch.run_id,
                     "object_type": object_type},
                    upsert=object_type == batch.object_type,
                    session=session,
                    **_progress(batch, object_type),
                )  # fmt: skip
            await self._applied.insert_one(
                {
                    "_id": batch.id,
                    "tenant_id": batch.tenant_id,
                    "run_id": batch.run_id,
                    "object_type": batch.object_type,
                    "seq": batch.seq,
                    "attempt": batch.attempt,
                    "applied_at": now,
                },
                session=session,
            )

        await self._transaction(write)
        return committed(outboxed, events)

    async def _enqueue(self, documents: list[dict[str, Any]], session: AsyncClientSession) -> None:
        if documents:
            await self._outbox.insert_many(documents, session=session)

    async def unpublished(self, tenant_id: str) -> list[Pending]:
        cursor = self._outbox.find({"tenant_id": tenant_id}).sort("_id", ASCENDING)
        return [entry async for doc in cursor for entry in read_back(doc)]

    async def unpublished_before(self, tenant_id: str, key: str) -> bool:
        query = {"tenant_id": tenant_id, "_id": {"$lt": ObjectId(key)}}
        return await self._outbox.find_one(query, {"_id": 1}) is not None

    async def outbox_tenants(self) -> list[str]:
        return sorted(await self._outbox.distinct("tenant_id"))

    async def mark_published(self, keys: Sequence[str]) -> None:
        if keys:
            await self._outbox.delete_many({"_id": {"$in": document_ids(keys)}})

    async def _write_objects(
        self, writes: Sequence[StoredObject], now: datetime, session: AsyncClientSession
    ) -> None:
        if not writes:
            return
        ops = [
            ReplaceOne({"_id": doc["_id"]}, doc, upsert=True)
            for doc in (object_document(obj, now) for obj in writes)
        ]
        await self._inventory.bulk_write(ops, ordered=False, session=session)

    # -- runs ---------------------------------------------------------------------------------

    async def record_started(self, started: SyncStarted) -> None:
        async def write(session: AsyncClientSession) -> None:
            run = await self._runs.find_one({"_id": started.run_id}, session=session)
            if run is not None and run.get("status", "Running") != "Running":
                return  # recorded, or cancelled by a newer run: a late copy of the start
            # A retried command starts the run again: the run began with its first attempt.
            known = run_start(run)
            started_at = min(known.started_at, started.at) if known else started.at
            attempts = max(known.attempts, started.attempt) if known else started.attempt
            await self._runs.update_one(
                {"_id": started.run_id},
                {
                    "$set": {
                        "tenant_id": started.tenant_id,
                        "mode": started.mode,
                        "reason": started.reason,
                        "object_types": list(started.object_types),
                        "started_at": started_at,
                        "attempts": attempts,
                        "status": "Running",
                        "has_changes": True,
                    }
                },
                upsert=True,
                session=session,
            )
            for object_type in started.object_types:
                fields = {
                    "tenant_id": started.tenant_id,
                    "run_id": started.run_id,
                    "object_type": object_type,
                    "mode": started.mode,
                    "reason": started.reason,
                    "status": "Running",
                    "started_at": started_at,
                    "attempts": attempts,
                    # Shown by the "changes or errors" filter until its finish says otherwise.
                    "has_changes": True,
                }
                key = row_key(started.run_id, object_type)
                await self.rows.put(key, object_type, fields, session, on_insert=NEW_ROW)
            await self._set_tenant(started.tenant_id, started.run_id, started_at, {
                "last_run_id": started.run_id,
                "last_sync_started_at": started_at,
                "last_sync_status": "Running",
                "last_sync_finished_at": None,
                "last_error": None,
            }, session)  # fmt: skip

        await self._transaction(write)

    async def run_start(self, run_id: str) -> RunStart | None:
        return run_start(
            await self._runs.find_one({"_id": run_id}, {"started_at": 1, "attempts": 1})
        )

    async def hold_finish(self, finished: SyncFinished, waits: int) -> None:
        # In the run's document: a purge of the tenant erases it with the run.
        held = {"message": finished.model_dump(mode="json"), "waits": waits}
        await self._runs.update_one(
            {"_id": finished.run_id},
            {"$set": {"tenant_id": finished.tenant_id, "held_finish": held}},
            upsert=True,
        )

    async def held_finishes(self, tenant_id: str | None = None) -> list[tuple[SyncFinished, int]]:
        query: dict[str, Any] = {"held_finish.waits": {"$exists": True}}
        if tenant_id is not None:
            query["tenant_id"] = tenant_id
        return [
            (
                SyncFinished.model_validate(doc["held_finish"]["message"]),
                doc["held_finish"]["waits"],
            )
            async for doc in self._runs.find(query, {"held_finish": 1})
        ]

    async def release_finish(self, run_id: str) -> None:
        await self._runs.update_one({"_id": run_id}, {"$unset": {"held_finish": ""}})

    async def cancel_running(
        self,
        tenant_id: str,
        error: str,
        *,
        started_before: datetime | None = None,
        except_run: str | None = None,
    ) -> list[str]:
        cancelled: list[str] = []
        query: dict[str, Any] = {"tenant_id": tenant_id, "status": "Running"}
        if started_before is not None:
            query["started_at"] = {"$lt": started_before}
        if except_run is not None:
            query["_id"] = {"$ne": except_run}

        async def write(session: AsyncClientSession) -> None:
            cancelled.clear()
            async for run in self._runs.find(query, {"object_types": 1}, session=session):
                cancelled.append(run["_id"])
                await self._runs.update_one(
                    {"_id": run["_id"]},
                    {"$set": {"status": "Cancelled", "error": error, "has_changes": True}},
                    session=session,
                )
                for object_type in run.get("object_types") or ():
                    key = row_key(run["_id"], object_type)
                    cancelled_row = {"status": "Cancelled", "error": error, "has_changes": True}
                    await self.rows.put(key, object_type, cancelled_row, session)
                await self._tenants.update_one(
                    {"_id": tenant_id, "last_run_id": run["_id"]},
                    {"$set": {"last_sync_status": "Cancelled", "last_error": error}},
                    session=session,
                )

        await self._transaction(write)
        return cancelled

    async def remember_deleted(self, deleted: TenantDeleted) -> None:
        """Keep a deleted tenant's name, domain and cloud beside its kept history."""
        tenant = deleted.tenant
        await self._deleted_tenants.update_one(
            {"_id": deleted.tenant_id},
            {
                "$set": {
                    "name": tenant.name if tenant else deleted.tenant_id,
                    "tenant": tenant.tenant if tenant else "",
                    "cloud": tenant.cloud if tenant else "",
                    "deleted_at": deleted.at,
                }
            },
            upsert=True,
        )

    async def bury(self, tenant_id: str, at: datetime, *, purged: bool) -> None:
        await self._tombstones.update_one(
            {"_id": tenant_id}, {"$set": {"deleted_at": at, "purged": purged}}, upsert=True
        )

    async def buried(self, tenant_id: str) -> bool:
        return await self._tombstones.find_one({"_id": tenant_id}, {"_id": 1}) is not None

    async def purged_tenants(self) -> list[str]:
        return [doc["_id"] async for doc in self._tombstones.find({"purged": True}, {"_id": 1})]

    async def purge_tenant(self, tenant_id: str) -> dict[str, int]:
        # Not one transaction: a big tenant exceeds its limits. A redelivery finishes the job.
        removed = {}
        for name, collection in (
            ("inventory", self._inventory),
            ("history", self.rows.collection),
            ("history_counts", self.rows.cells),
            ("runs", self._runs),
            ("applied_batches", self._applied),
            ("guardrail_overrides", self._overrides),
            # Events a crash left unpublished: a purged tenant's changes are not announced later.
            ("outbox", self._outbox),
        ):
            removed[name] = (await collection.delete_many({"tenant_id": tenant_id})).deleted_count
        removed["tenants"] = (await self._tenants.delete_one({"_id": tenant_id})).deleted_count
        removed.update(await self.effective.purge(tenant_id))
        await self._deleted_tenants.delete_one({"_id": tenant_id})
        return removed

    async def _set_tenant(
        self,
        tenant_id: str,
        run_id: str,
        started_at: datetime,
        fields: dict[str, Any],
        session: AsyncClientSession,
    ) -> None:
        """Update the tenant's last sync unless a later run already took its place."""
        tenant = await self._tenants.find_one({"_id": tenant_id}, session=session)
        if tenant is not None and tenant.get("last_run_id") != run_id:
            previous = tenant.get("last_sync_started_at")
            if previous is not None and utc(previous) > utc(started_at):
                return
        await self._tenants.update_one(
            {"_id": tenant_id}, {"$set": fields}, upsert=True, session=session
        )

    async def applied_batches(self, run_id: str) -> dict[tuple[ObjectType, int], int]:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"run_id": run_id}},
            {
                "$group": {
                    "_id": {"type": "$object_type", "attempt": {"$ifNull": ["$attempt", 1]}},
                    "n": {"$sum": 1},
                }
            },
        ]
        cursor = await self._applied.aggregate(pipeline)
        return {(doc["_id"]["type"], doc["_id"]["attempt"]): doc["n"] async for doc in cursor}

    def _live(self, tenant_id: str, object_type: ObjectType) -> dict[str, Any]:
        return {"tenant_id": tenant_id, "object_type": object_type, "deleted": False}

    async def count_live(self, tenant_id: str, object_type: ObjectType) -> int:
        return await self._inventory.count_documents(self._live(tenant_id, object_type))

    def _unseen(
        self,
        tenant_id: str,
        object_type: ObjectType,
        run_id: str,
        started_at: datetime,
        attempt: int,
    ) -> dict[str, Any]:
        # Documents written before attempts were recorded count as attempt 1.
        this_attempt: Any = {"$in": [1, None]} if attempt == 1 else attempt
        return {
            **self._live(tenant_id, object_type),
            "$nor": [{"last_seen_run": run_id, "last_seen_attempt": this_attempt}],
            "last_seen_at": {"$lt": started_at},
        }

    async def count_unseen(
        self,
        tenant_id: str,
        object_type: ObjectType,
        run_id: str,
        started_at: datetime,
        attempt: int = 1,
    ) -> int:
        query = self._unseen(tenant_id, object_type, run_id, started_at, attempt)
        return await self._inventory.count_documents(query)

    async def unseen(
        self,
        tenant_id: str,
        object_type: ObjectType,
        run_id: str,
        started_at: datetime,
        attempt: int = 1,
    ) -> list[StoredObject]:
        query = self._unseen(tenant_id, object_type, run_id, started_at, attempt)
        return [stored_object(doc) async for doc in self._inventory.find(query)]

    async def containers_with_unconfirmed_members(
        self, tenant_id: str, run_id: str, attempt: int, object_types: Sequence[ObjectType]
    ) -> list[StoredObject]:
        query = {
            "tenant_id": tenant_id,
            "object_type": {"$in": list(object_types)},
            "deleted": False,
            "confirmed_run": confirmation_key(run_id, attempt),
            "last_seen_run": run_id,
            "$expr": {
                "$not": [
                    {
                        "$setIsSubset": [
                            {"$setUnion": ["$members", {"$ifNull": ["$hidden_members", []]}]},
                            "$confirmed_members",
                        ]
                    }
                ]
            },
        }
        return [stored_object(doc) async for doc in self._inventory.find(query)]

    async def accumulated(self, run_id: str) -> dict[ObjectType, Tally]:
        return {
            doc["object_type"]: Tally(doc.get("changed", 0), doc.get("deleted", 0))
            async for doc in self.rows.of_run(run_id)
        }

    async def recorded(self, run_id: str) -> SyncRecorded | None:
        run = await self._runs.find_one({"_id": run_id}, {"recorded": 1})
        if run is None or not run.get("recorded"):
            return None
        return recorded_from(run["recorded"])

    async def active_overrides(
        self, tenant_id: str, now: datetime
    ) -> dict[ObjectType, GuardrailOverride]:
        query = {"tenant_id": tenant_id, "used_by_run": None, "expires_at": {"$gt": now}}
        found = [override_from(doc) async for doc in self._overrides.find(query)]
        return {override.object_type: override for override in found}

    async def commit_finish(
        self,
        recorded: SyncRecorded,
        writes: Sequence[StoredObject],
        events: Sequence[OutgoingEvent] = (),
        closure: ClosureUpdate | None = None,
    ) -> list[Pending]:
        now = _now()
        outboxed = outbox_documents(recorded.tenant_id, events, now)

        async def write(session: AsyncClientSession) -> None:
            await self._write_objects(writes, now, session)
            if closure is not None:
                await self.effective.write(recorded.tenant_id, closure, now, session)
            await self._enqueue(outboxed, session)
            for counts in recorded.types:
                key = row_key(recorded.run_id, counts.object_type)
                row = final_row(recorded, counts)
                await self.rows.put(key, counts.object_type, row, session)
                if counts.guardrail_override is not None:
                    await self._overrides.update_one(
                        {"_id": f"{recorded.tenant_id}:{counts.object_type}", "used_by_run": None},
                        {"$set": {"used_by_run": recorded.run_id, "used_at": now}},
                        session=session,
                    )
            await self._runs.update_one(
                {"_id": recorded.run_id},
                {
                    "$set": {
                        "tenant_id": recorded.tenant_id,
                        "mode": recorded.mode,
                        "reason": recorded.reason,
                        "started_at": recorded.started_at,
                        "finished_at": recorded.finished_at,
                        "attempts": recorded.attempts,
                        "status": recorded.status,
                        "has_changes": run_has_changes(recorded.types),
                        "recorded": recorded_document(recorded),
                    },
                    "$unset": {"error": ""},
                },
                upsert=True,
                session=session,
            )
            errors = [t.error for t in recorded.types if t.error]
            await self._set_tenant(recorded.tenant_id, recorded.run_id, recorded.started_at, {
                "last_run_id": recorded.run_id,
                "last_sync_started_at": recorded.started_at,
                "last_sync_status": recorded.status,
                "last_sync_finished_at": recorded.finished_at,
                "last_error": errors[0] if errors else None,
            }, session)  # fmt: skip

        await self._transaction(write)
        return committed(outboxed, events)
