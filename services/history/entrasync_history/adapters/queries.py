"""`MongoHistoryQueries`: what the request-reply API reads, and the guardrail overrides.

Searches never reach MongoDB as operators: the text is a validated `str`, compared as a value
or matched through an escaped (literal) regular expression.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

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
    TenantsStatusQuery,
    TenantSyncStatus,
    TypeInventoryCount,
)
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES, OBJECT_TYPES
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReplaceOne

from entrasync_history.adapters.documents import (
    deleted_tenant,
    inventory_item,
    object_key,
    override_document,
    tenant_status,
)
from entrasync_history.adapters.rows import MongoRows
from entrasync_history.domain.search import literal_pattern

SEARCHED_ATTRIBUTES = ("displayName", "userPrincipalName", "mail")
STATUS_LIMIT = 1000
DELETED_LIMIT = 1000


class MongoHistoryQueries:
    def __init__(
        self, client: AsyncMongoClient[dict[str, Any]], database: str, rows: MongoRows
    ) -> None:
        self._client = client
        db = client[database]
        self._rows = rows
        self._inventory = db["inventory"]
        self._tenants = db["tenants"]
        self._overrides = db["guardrail_overrides"]
        self._deleted_tenants = db["deleted_tenants"]

    async def history_rows(
        self, query: HistoryRunsQuery, now: datetime
    ) -> tuple[list[HistoryRow], int]:
        # One snapshot for the counts and the page, so the two agree.
        async with self._client.start_session(snapshot=True) as session:
            return await self._rows.page(query, now, session)

    async def export_chunk(
        self, request: HistoryExportRequest, now: datetime
    ) -> tuple[list[HistoryRow], str | None]:
        return await self._rows.export_chunk(request, now)

    async def inventory(self, query: HistoryObjectsQuery) -> tuple[list[InventoryItem], int]:
        match: dict[str, Any] = {"tenant_id": query.tenant_id, "object_type": query.object_type}
        if not query.include_deleted:
            match["deleted"] = False
        if query.search.strip():
            pattern = {"$regex": literal_pattern(query.search.strip()), "$options": "i"}
            fields = ("object_id", *(f"attributes.{name}" for name in SEARCHED_ATTRIBUTES))
            match["$or"] = [{field: pattern} for field in fields]
        total = await self._inventory.count_documents(match)
        cursor = (
            self._inventory.find(match)
            .sort("object_id", ASCENDING)
            .skip((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
        return [inventory_item(doc) async for doc in cursor], total

    async def inventory_item(self, query: HistoryObjectQuery) -> InventoryItem | None:
        key = object_key(query.tenant_id, query.object_type, query.object_id)
        doc = await self._inventory.find_one({"_id": key})
        return inventory_item(doc) if doc is not None else None

    async def inventory_counts(self, tenant_id: str) -> InventoryCounts:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"tenant_id": tenant_id}},
            {
                "$group": {
                    "_id": {"type": "$object_type", "deletion": "$deletion"},
                    "n": {"$sum": 1},
                }
            },
        ]
        found: dict[tuple[str, str | None], int] = {}
        async for doc in await self._inventory.aggregate(pipeline):
            found[(doc["_id"]["type"], doc["_id"].get("deletion"))] = doc["n"]
        # The default types always; another type once the tenant holds objects of it.
        held = {object_type for object_type, _ in found}
        shown = [t for t in OBJECT_TYPES if t in DEFAULT_OBJECT_TYPES or t in held]
        return InventoryCounts(
            tenant_id=tenant_id,
            types=tuple(
                TypeInventoryCount(
                    object_type=t,
                    live=found.get((t, None), 0),
                    soft_deleted=found.get((t, "soft"), 0),
                    hard_deleted=found.get((t, "hard"), 0),
                    unseen_deleted=found.get((t, "unseen"), 0),
                )
                for t in shown
            ),
        )

    async def tenants_status(self, query: TenantsStatusQuery) -> list[TenantSyncStatus]:
        match: dict[str, Any] = {"last_run_id": {"$exists": True}}
        if query.tenant_ids:
            match["_id"] = {"$in": list(query.tenant_ids)}
        cursor = self._tenants.find(match).sort("_id", ASCENDING).limit(STATUS_LIMIT)
        return [tenant_status(doc) async for doc in cursor]

    async def deleted_tenants(self, query: DeletedTenantsQuery) -> list[DeletedTenant]:
        match = {} if query.tenant_id is None else {"_id": query.tenant_id}
        cursor = (
            self._deleted_tenants.find(match).sort("deleted_at", DESCENDING).limit(DELETED_LIMIT)
        )
        return [deleted_tenant(doc) async for doc in cursor]

    async def grant_override(
        self, grant: GuardrailOverrideGrant, now: datetime
    ) -> list[GuardrailOverride]:
        overrides = [
            GuardrailOverride(
                tenant_id=grant.tenant_id,
                object_type=object_type,
                operator=grant.operator,
                note=grant.note,
                granted_at=now,
                expires_at=now + timedelta(seconds=grant.valid_for_seconds),
            )
            for object_type in grant.object_types
        ]
        ops = [
            ReplaceOne({"_id": doc["_id"]}, doc, upsert=True)
            for doc in map(override_document, overrides)
        ]
        await self._overrides.bulk_write(ops, ordered=True)
        return overrides
