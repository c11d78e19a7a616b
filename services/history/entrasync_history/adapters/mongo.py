"""`MongoHistoryStore`: inventory, runs, history rows and batch markers in MongoDB.

Every write that must be all-or-nothing (a batch's objects, counts and marker; a run's final
rows, objects and run document) runs in one multi-document transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_shared.messages import (
    HistoryObjectsQuery,
    HistoryRow,
    HistoryRunsQuery,
    InventoryItem,
    ObservationBatch,
    SyncRecorded,
    SyncStarted,
)
from entrasync_shared.subjects import ObjectType
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession

from entrasync_history.adapters.documents import (
    final_row,
    history_row,
    inventory_item,
    object_document,
    object_key,
    recorded_document,
    recorded_from,
    row_key,
    stored_object,
    utc,
)
from entrasync_history.domain.model import StoredObject
from entrasync_history.domain.plans import Tally, batch_attempt

APPLIED_MARKER_TTL = timedelta(days=7)
"""Longer than the pipeline stream keeps messages, so no redelivery outlives its marker."""


def _now() -> datetime:
    return datetime.now(UTC)


class MongoHistoryStore:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._client = client
        db = client[database]
        self._inventory = db["inventory"]
        self._history = db["history"]
        self._runs = db["runs"]
        self._tenants = db["tenants"]
        self._applied = db["applied_batches"]

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
            ]
        )  # fmt: skip
        await self._history.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("started_at", DESCENDING)]),
                IndexModel([("run_id", ASCENDING)]),
            ]
        )
        await self._runs.create_indexes([IndexModel([("tenant_id", ASCENDING)])])
        await self._applied.create_indexes(
            [
                IndexModel([("run_id", ASCENDING), ("object_type", ASCENDING)]),
                IndexModel(
                    [("applied_at", ASCENDING)],
                    expireAfterSeconds=int(APPLIED_MARKER_TTL.total_seconds()),
                ),
            ]
        )

    async def ping(self) -> None:
        await self._client.admin.command("ping")

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

    async def groups_containing(
        self, tenant_id: str, member_ids: Iterable[str]
    ) -> list[StoredObject]:
        ids = sorted(member_ids)
        if not ids:
            return []
        query = {"tenant_id": tenant_id, "object_type": "group", "members": {"$in": ids}}
        return [stored_object(doc) async for doc in self._inventory.find(query)]

    async def commit_batch(
        self,
        batch: ObservationBatch,
        writes: Sequence[StoredObject],
        tallies: Mapping[ObjectType, Tally],
    ) -> None:
        now = _now()

        async def write(session: AsyncClientSession) -> None:
            await self._write_objects(writes, now, session)
            for object_type, tally in tallies.items():
                await self._history.update_one(
                    {"_id": row_key(batch.run_id, object_type)},
                    {
                        "$inc": {"changed": tally.changed, "deleted": tally.deleted},
                        "$setOnInsert": {
                            "tenant_id": batch.tenant_id,
                            "run_id": batch.run_id,
                            "object_type": object_type,
                        },
                    },
                    upsert=object_type == batch.object_type,
                    session=session,
                )
            await self._applied.insert_one(
                {
                    "_id": batch.id,
                    "tenant_id": batch.tenant_id,
                    "run_id": batch.run_id,
                    "object_type": batch.object_type,
                    "seq": batch.seq,
                    "attempt": batch_attempt(batch),
                    "applied_at": now,
                },
                session=session,
            )

        await self._transaction(write)

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

    async def _transaction(self, work: Any) -> None:
        async with self._client.start_session() as session:
            await session.with_transaction(work)

    # -- runs ---------------------------------------------------------------------------------

    async def record_started(self, started: SyncStarted) -> None:
        async def write(session: AsyncClientSession) -> None:
            run = await self._runs.find_one({"_id": started.run_id}, session=session)
            if run is not None and run.get("recorded"):
                return
            await self._runs.update_one(
                {"_id": started.run_id},
                {
                    "$set": {
                        "tenant_id": started.tenant_id,
                        "mode": started.mode,
                        "reason": started.reason,
                        "object_types": list(started.object_types),
                        "started_at": started.at,
                        "status": "Running",
                    }
                },
                upsert=True,
                session=session,
            )
            for object_type in started.object_types:
                await self._history.update_one(
                    {"_id": row_key(started.run_id, object_type)},
                    {
                        "$set": {
                            "tenant_id": started.tenant_id,
                            "run_id": started.run_id,
                            "object_type": object_type,
                            "mode": started.mode,
                            "reason": started.reason,
                            "status": "Running",
                            "started_at": started.at,
                        },
                        "$setOnInsert": {"changed": 0, "deleted": 0, "total": 0, "filtered": 0},
                    },
                    upsert=True,
                    session=session,
                )
            await self._set_tenant(started.tenant_id, started.run_id, started.at, {
                "last_run_id": started.run_id,
                "last_sync_started_at": started.at,
                "last_sync_status": "Running",
                "last_sync_finished_at": None,
            }, session)  # fmt: skip

        await self._transaction(write)

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
        self, tenant_id: str, object_type: ObjectType, run_id: str, started_at: datetime
    ) -> dict[str, Any]:
        return {
            **self._live(tenant_id, object_type),
            "last_seen_run": {"$ne": run_id},
            "last_seen_at": {"$lt": started_at},
        }

    async def count_unseen(
        self, tenant_id: str, object_type: ObjectType, run_id: str, started_at: datetime
    ) -> int:
        query = self._unseen(tenant_id, object_type, run_id, started_at)
        return await self._inventory.count_documents(query)

    async def unseen(
        self, tenant_id: str, object_type: ObjectType, run_id: str, started_at: datetime
    ) -> list[StoredObject]:
        query = self._unseen(tenant_id, object_type, run_id, started_at)
        return [stored_object(doc) async for doc in self._inventory.find(query)]

    async def groups_with_unconfirmed_members(
        self, tenant_id: str, run_id: str
    ) -> list[StoredObject]:
        query = {
            **self._live(tenant_id, "group"),
            "confirmed_run": run_id,
            "last_seen_run": run_id,
            "$expr": {"$not": [{"$setIsSubset": ["$members", "$confirmed_members"]}]},
        }
        return [stored_object(doc) async for doc in self._inventory.find(query)]

    async def accumulated(self, run_id: str) -> dict[ObjectType, Tally]:
        return {
            doc["object_type"]: Tally(doc.get("changed", 0), doc.get("deleted", 0))
            async for doc in self._history.find({"run_id": run_id})
        }

    async def recorded(self, run_id: str) -> SyncRecorded | None:
        run = await self._runs.find_one({"_id": run_id}, {"recorded": 1})
        if run is None or not run.get("recorded"):
            return None
        return recorded_from(run["recorded"])

    async def commit_finish(self, recorded: SyncRecorded, writes: Sequence[StoredObject]) -> None:
        now = _now()

        async def write(session: AsyncClientSession) -> None:
            await self._write_objects(writes, now, session)
            for counts in recorded.types:
                await self._history.update_one(
                    {"_id": row_key(recorded.run_id, counts.object_type)},
                    {"$set": final_row(recorded, counts)},
                    upsert=True,
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
                        "status": recorded.status,
                        "recorded": recorded_document(recorded),
                    }
                },
                upsert=True,
                session=session,
            )
            await self._set_tenant(recorded.tenant_id, recorded.run_id, recorded.started_at, {
                "last_run_id": recorded.run_id,
                "last_sync_started_at": recorded.started_at,
                "last_sync_status": recorded.status,
                "last_sync_finished_at": recorded.finished_at,
            }, session)  # fmt: skip

        await self._transaction(write)

    # -- queries ------------------------------------------------------------------------------

    async def history_rows(self, query: HistoryRunsQuery) -> tuple[list[HistoryRow], int]:
        # Rows only counted by batches so far (their run start not yet seen) are not shown.
        match = {"tenant_id": query.tenant_id, "reason": {"$exists": True}}
        total = await self._history.count_documents(match)
        cursor = (
            self._history.find(match)
            .sort([("started_at", DESCENDING), ("run_id", ASCENDING), ("object_type", ASCENDING)])
            .skip((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
        return [history_row(doc) async for doc in cursor], total

    async def inventory(self, query: HistoryObjectsQuery) -> tuple[list[InventoryItem], int]:
        match: dict[str, Any] = {"tenant_id": query.tenant_id, "object_type": query.object_type}
        if not query.include_deleted:
            match["deleted"] = False
        total = await self._inventory.count_documents(match)
        cursor = (
            self._inventory.find(match)
            .sort("object_id", ASCENDING)
            .skip((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
        return [inventory_item(doc) async for doc in cursor], total
