"""`MongoRows`: the Sync History rows, their per-day counts, paging, search and export.

Every change of a row's start, type or status moves it between `history_counts` cells in the
same transaction, so a tenant's total and any page's first row come from those counts instead
of counting or skipping through up to millions of rows. Rows and their day's cells expire
together (TTL on `expire_at`), and queries only look at days inside the retention window, so
the counts stay exact while the TTL monitor catches up.

A search reads row keys from two indexes, each named explicitly (no query planning, so no
trial runs over a tenant's rows): `kind` ("<type>|<status>") for the types and statuses the text
names, and the failed-rows index for the error text (a literal, escaped regex on index keys).
The two ordered key lists are merged here; then only the page's rows are fetched.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from entrasync_shared.messages import HistoryExportRequest, HistoryRow, HistoryRunsQuery
from entrasync_shared.subjects import OBJECT_TYPES, ObjectType
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase

from entrasync_history.adapters.documents import (
    ROW_FIELDS,
    count_cell,
    history_row,
    order_bound,
    placed,
    row_kind,
)
from entrasync_history.domain.paging import DAY, expiry, locate, window_start
from entrasync_history.domain.search import RUN_STATUSES, RowSearch, row_search

CELL_FIELDS = ("tenant_id", "object_type", "status", "started_at")
OPTIONAL_FIELDS = ("error", "guardrail_override")
BY_ORDER = "tenant_order"
BY_KIND = "tenant_kind_order"
FAILED_ROWS = "tenant_failed_rows"
EXPORT_CHUNK_BYTES = 512 * 1024
"""A chunk stops growing past this size, well inside NATS's default 1 MB payload limit."""

Cell = tuple[str, str, datetime, str, str]
SHOWN = {"_id": 0, "order": 1, **dict.fromkeys(ROW_FIELDS, 1)}


class MongoRows:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], retention_days: int) -> None:
        self._rows = db["history"]
        self._cells = db["history_counts"]
        self.retention_days = retention_days

    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        return self._rows

    @property
    def cells(self) -> AsyncCollection[dict[str, Any]]:
        return self._cells

    async def ensure_indexes(self) -> None:
        await self._rows.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("order", DESCENDING)], name=BY_ORDER),
                IndexModel([("tenant_id", ASCENDING), ("kind", ASCENDING), ("order", DESCENDING)],
                           name=BY_KIND),
                IndexModel([("tenant_id", ASCENDING), ("order", DESCENDING), ("error", ASCENDING),
                            ("kind", ASCENDING)],
                           name=FAILED_ROWS, partialFilterExpression={"error": {"$exists": True}}),
                IndexModel([("run_id", ASCENDING)]),
                IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0),
            ]
        )  # fmt: skip
        await self._cells.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("day", DESCENDING)]),
                IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0),
            ]
        )

    # -- writes -------------------------------------------------------------------------------

    async def put(
        self,
        row_id: str,
        object_type: ObjectType,
        fields: Mapping[str, Any],
        session: AsyncClientSession,
        *,
        on_insert: Mapping[str, Any] | None = None,
    ) -> None:
        """Set a row's fields (None clears an optional one) and keep the day counts exact."""
        values = {k: v for k, v in fields.items() if not (k in OPTIONAL_FIELDS and v is None)}
        cleared = [k for k in OPTIONAL_FIELDS if k in fields and fields[k] is None]
        if "started_at" in values:
            values = placed({"object_type": object_type, **values}, self.retention_days)
        elif "status" in values:
            values["kind"] = row_kind(object_type, values["status"])
        update: dict[str, Any] = {"$set": values}
        if cleared:
            update["$unset"] = dict.fromkeys(cleared, "")
        if on_insert:
            update["$setOnInsert"] = {k: v for k, v in on_insert.items() if k not in values}
        before = await self._rows.find_one_and_update(
            {"_id": row_id},
            update,
            projection=dict.fromkeys(CELL_FIELDS, 1),
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            session=session,
        )
        changed = {k: values[k] for k in CELL_FIELDS if k in values}
        after = {**(before or on_insert or {}), **changed}
        await self._move(count_cell(before), count_cell(after), session)

    async def _move(self, old: Cell | None, new: Cell | None, session: AsyncClientSession) -> None:
        if old == new:
            return
        if old is not None:
            await self._cells.update_one({"_id": old[0]}, {"$inc": {"n": -1}}, session=session)
        if new is not None:
            cell_id, tenant_id, day, object_type, status = new
            await self._cells.update_one(
                {"_id": cell_id},
                {
                    "$inc": {"n": 1},
                    "$max": {"expire_at": expiry(day, self.retention_days)},
                    "$setOnInsert": {
                        "tenant_id": tenant_id,
                        "day": day,
                        "object_type": object_type,
                        "status": status,
                    },
                },
                upsert=True,
                session=session,
            )

    async def add_tallies(
        self, row_id: str, changed: int, deleted: int, on_insert: Mapping[str, Any], *,
        upsert: bool, session: AsyncClientSession, received: int = 0, pages: int = 0,
    ) -> None:  # fmt: skip
        """Count a batch's changes into a row (created without a start if none exists yet);
        `received`/`pages` count the batch itself into its own type's row (run progress)."""
        counts = {"changed": changed, "deleted": deleted, "received": received, "pages": pages}
        await self._rows.update_one(
            {"_id": row_id},
            {"$inc": counts, "$setOnInsert": dict(on_insert)},
            upsert=upsert,
            session=session,
        )

    # -- reads --------------------------------------------------------------------------------

    def of_run(self, run_id: str) -> AsyncCursor[dict[str, Any]]:
        return self._rows.find({"run_id": run_id})

    async def page(
        self, query: HistoryRunsQuery, now: datetime, session: AsyncClientSession
    ) -> tuple[list[HistoryRow], int]:
        search = row_search(query.search)
        first_day = window_start(now, self.retention_days)
        days = await self._day_counts(query.tenant_id, first_day, search, session)
        total = sum(n for _, n in days)
        start = locate(days, (query.page - 1) * query.page_size)
        if start is None:
            return [], total
        order = {"$gte": order_bound(first_day), "$lt": order_bound(start.day + DAY)}
        if search is None:
            cursor = (
                self._rows.find(
                    {"tenant_id": query.tenant_id, "order": order}, SHOWN, session=session
                )
                .sort("order", DESCENDING)
                .hint(BY_ORDER)
                .skip(start.skip)
                .limit(query.page_size)
                .batch_size(query.page_size)
            )
            return [history_row(doc) async for doc in cursor], total
        limit = start.skip + query.page_size
        keys = await self._matching_keys(query.tenant_id, order, search, limit, session)
        docs = await self._fetch(query.tenant_id, keys[start.skip :], session)
        return [history_row(doc) for doc in docs], total

    async def _matching_keys(
        self,
        tenant_id: str,
        order: dict[str, str],
        search: RowSearch,
        limit: int,
        session: AsyncClientSession | None = None,
    ) -> list[str]:
        """The first `limit` `order` keys (newest first) of rows matching the search."""
        pattern = {"$regex": search.error_pattern, "$options": "i"}
        by_error = (
            self._rows.find(
                {"tenant_id": tenant_id, "order": order, "error": pattern},
                {"_id": 0, "order": 1},
                session=session,
            )
            .sort("order", DESCENDING)
            .hint(FAILED_ROWS)
            .limit(limit)
        )
        lists = [[doc["order"] async for doc in by_error]]
        kinds = _kinds(search)
        if kinds:
            by_kind = (
                self._rows.find(
                    {"tenant_id": tenant_id, "kind": {"$in": kinds}, "order": order},
                    {"_id": 0, "order": 1},
                    session=session,
                )
                .sort("order", DESCENDING)
                .hint(BY_KIND)
                .limit(limit)
            )
            lists.append([doc["order"] async for doc in by_kind])
        merged = heapq.merge(*lists, reverse=True)
        unique: list[str] = []
        for key in merged:
            if not unique or unique[-1] != key:
                unique.append(key)
            if len(unique) == limit:
                break
        return unique

    async def _fetch(
        self, tenant_id: str, keys: list[str], session: AsyncClientSession | None = None
    ) -> list[dict[str, Any]]:
        if not keys:
            return []
        cursor = (
            self._rows.find(
                {"tenant_id": tenant_id, "order": {"$in": keys}}, SHOWN, session=session
            )
            .sort("order", DESCENDING)
            .hint(BY_ORDER)
            .batch_size(len(keys))
        )
        return await cursor.to_list()

    async def _day_counts(
        self,
        tenant_id: str,
        first_day: datetime,
        search: RowSearch | None,
        session: AsyncClientSession,
    ) -> list[tuple[datetime, int]]:
        """Matching rows per day, newest day first: from the counts, plus (when searching) the
        rows that only match by their error text, counted on the failed-rows index."""
        per_day: dict[datetime, int] = {}
        cells: dict[str, Any] = {"tenant_id": tenant_id, "day": {"$gte": first_day}}
        if search is not None:
            cells["$or"] = [
                {"object_type": {"$in": list(search.types)}},
                {"status": {"$in": list(search.statuses)}},
            ]
        if search is None or _kinds(search):
            pipeline: list[dict[str, Any]] = [
                {"$match": cells},
                {"$group": {"_id": "$day", "n": {"$sum": "$n"}}},
            ]
            async for doc in await self._cells.aggregate(pipeline, session=session):
                per_day[doc["_id"]] = per_day.get(doc["_id"], 0) + doc["n"]
        if search is not None:
            only_error = {
                "tenant_id": tenant_id,
                "order": {"$gte": order_bound(first_day)},
                "error": {"$regex": search.error_pattern, "$options": "i"},
                "kind": {"$nin": _kinds(search)},
            }
            pipeline = [
                {"$match": only_error},
                {"$group": {"_id": {"$substrBytes": ["$order", 0, 10]}, "n": {"$sum": 1}}},
            ]
            found = await self._rows.aggregate(pipeline, session=session, hint=FAILED_ROWS)
            async for doc in found:
                day = datetime.strptime(doc["_id"], "%Y-%m-%d").replace(tzinfo=UTC)
                per_day[day] = per_day.get(day, 0) + doc["n"]
        return sorted(((d, n) for d, n in per_day.items() if n > 0), reverse=True)

    async def export_chunk(
        self, request: HistoryExportRequest, now: datetime
    ) -> tuple[list[HistoryRow], str | None]:
        """Up to `max_rows` rows older than the `after` key, and the key to continue after."""
        order = {"$gte": order_bound(window_start(now, self.retention_days))}
        if request.after is not None:
            order["$lt"] = request.after
        search = row_search(request.search)
        if search is None:
            cursor = (
                self._rows.find({"tenant_id": request.tenant_id, "order": order}, SHOWN)
                .sort("order", DESCENDING)
                .hint(BY_ORDER)
                .limit(request.max_rows)
                .batch_size(request.max_rows)
            )
            docs = await cursor.to_list()
        else:
            keys = await self._matching_keys(request.tenant_id, order, search, request.max_rows)
            docs = await self._fetch(request.tenant_id, keys)
        rows: list[HistoryRow] = []
        size = 0
        for doc in docs:
            rows.append(history_row(doc))
            size += 100 + len(doc.get("error") or "") + len(doc.get("guardrail_override") or "")
            if size >= EXPORT_CHUNK_BYTES:
                break
        done = len(rows) < request.max_rows and len(rows) == len(docs)
        return rows, None if done or not rows else docs[len(rows) - 1]["order"]


def _kinds(search: RowSearch) -> list[str]:
    """The kinds ("<type>|<status>") whose type or status the search names."""
    return [
        row_kind(t, s)
        for t in OBJECT_TYPES
        for s in RUN_STATUSES
        if t in search.types or s in search.statuses
    ]
