"""`MongoRows`: the Sync History rows, their per-day counts, paging, search and export.

Every change of a row's start, type or status moves it between `history_counts` cells in the
same transaction, so a tenant's total and any page's first row come from those counts instead
of counting or skipping through up to millions of rows. Rows and their day's cells expire
together (TTL on `expire_at`), and queries only look at days inside the retention window, so
the counts stay exact while the TTL monitor catches up.

A search reads row keys from two indexes, each named explicitly (no query planning, so no
trial runs over a tenant's rows): `kind` ("<type>|<status>") for the types and statuses the text
names, and the failed-rows index for the error text (a literal, escaped regex on index keys).
The two ordered key lists are merged here; then only the page's rows are fetched. A number
search adds a third list, from the rows' `numbers`; a date search ("2025-03-10 01:0") is a range
of the sort key itself.

The "changes or errors" filter (`changes_only`) keeps it that way: every row carries its run's
`has_changes`, the day counts are split by it, and the filtered queries read indexes that start
with (or hold) it.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
    Cell,
    count_cell,
    history_row,
    order_bound,
    placed,
    row_kind,
    row_numbers,
)
from entrasync_history.domain.paging import DAY, expiry, locate, window_start
from entrasync_history.domain.search import RUN_STATUSES, RowSearch, row_search

CELL_FIELDS = ("tenant_id", "object_type", "status", "started_at", "has_changes")
OPTIONAL_FIELDS = ("error", "guardrail_override")
BY_ORDER = "tenant_order"
BY_KIND = "tenant_kind_order"
FAILED_ROWS = "tenant_failed_rows"
CHANGES_BY_ORDER = "tenant_changes_order"
CHANGES_BY_KIND = "tenant_changes_kind_order"
BY_NUMBER = "tenant_number_changes_order"
EXPORT_CHUNK_BYTES = 512 * 1024
"""A chunk stops growing past this size, well inside NATS's default 1 MB payload limit."""

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
                IndexModel([("tenant_id", ASCENDING), ("has_changes", ASCENDING),
                            ("order", DESCENDING)], name=CHANGES_BY_ORDER),
                IndexModel([("tenant_id", ASCENDING), ("has_changes", ASCENDING),
                            ("kind", ASCENDING), ("order", DESCENDING)], name=CHANGES_BY_KIND),
                IndexModel([("tenant_id", ASCENDING), ("numbers", ASCENDING),
                            ("has_changes", ASCENDING), ("order", DESCENDING)], name=BY_NUMBER),
                IndexModel([("run_id", ASCENDING)]),
                IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0),
            ]
        )  # fmt: skip
        await self._complete_older_rows()
        await self._cells.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("day", DESCENDING)]),
                IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0),
            ]
        )

    async def _complete_older_rows(self) -> None:
        """Give rows written before `has_changes`/`numbers` existed both (once; idempotent).

        Such rows count as having changes, which is also what their day cells already say.
        """
        counts = [f"${name}" for name in ("total", "changed", "deleted", "filtered")]
        await self._rows.update_many(
            {"has_changes": {"$exists": False}, "order": {"$exists": True}},
            {"$set": {"has_changes": True}},
        )
        await self._rows.update_many(
            {"numbers": {"$exists": False}, "order": {"$exists": True}, "total": {"$exists": True}},
            [{"$set": {"numbers": {"$setUnion": [counts]}}}],
        )
        await self._cells.update_many({"changes": {"$exists": False}}, {"$set": {"changes": True}})
        async for cell in self._cells.find({"nums": {"$exists": False}}):
            await self._count_cell_numbers(cell)

    async def _count_cell_numbers(self, cell: Mapping[str, Any]) -> None:
        """Fill a cell's `nums` (rows per count value) from its rows."""
        day = cell["day"]
        pipeline: list[dict[str, Any]] = [
            {
                "$match": {
                    "tenant_id": cell["tenant_id"],
                    "order": {"$gte": order_bound(day), "$lt": order_bound(day + DAY)},
                    "object_type": cell["object_type"],
                    "status": cell["status"],
                    "has_changes": cell["changes"],
                }
            },
            {"$unwind": "$numbers"},
            {"$group": {"_id": "$numbers", "n": {"$sum": 1}}},
        ]
        found = await self._rows.aggregate(pipeline, hint=CHANGES_BY_ORDER)
        nums = {str(doc["_id"]): doc["n"] async for doc in found}
        await self._cells.update_one({"_id": cell["_id"]}, {"$set": {"nums": nums}})

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
            inserted = {**on_insert, "numbers": row_numbers(on_insert)}
            update["$setOnInsert"] = {
                k: v for k, v in inserted.items() if k not in values and v is not None
            }
        before = await self._rows.find_one_and_update(
            {"_id": row_id},
            update,
            projection={"numbers": 1, **dict.fromkeys(CELL_FIELDS, 1)},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            session=session,
        )
        changed = {k: values[k] for k in CELL_FIELDS if k in values}
        after = {**(before or on_insert or {}), **changed}
        old_numbers = (before or {}).get("numbers") or []
        if "numbers" in values:
            new_numbers = values["numbers"]
        elif before is None:
            new_numbers = update.get("$setOnInsert", {}).get("numbers") or []
        else:
            new_numbers = old_numbers
        moved = Moved(count_cell(before), count_cell(after), old_numbers, new_numbers)
        await self._move(moved, session)

    async def _move(self, moved: Moved, session: AsyncClientSession) -> None:
        """Keep the cells exact: rows per cell (`n`) and, per count value, rows per cell (`nums`,
        what a number search totals from)."""
        old, new = moved.old, moved.new
        if old == new:
            if old is not None and moved.old_numbers != moved.new_numbers:
                diff = Counter(moved.new_numbers)
                diff.subtract(moved.old_numbers)
                inc = {f"nums.{k}": v for k, v in diff.items() if v}
                await self._cells.update_one({"_id": old[0]}, {"$inc": inc}, session=session)
            return
        if old is not None:
            inc = {"n": -1, **{f"nums.{k}": -1 for k in moved.old_numbers}}
            await self._cells.update_one({"_id": old[0]}, {"$inc": inc}, session=session)
        if new is not None:
            cell_id, tenant_id, day, object_type, status, changes = new
            await self._cells.update_one(
                {"_id": cell_id},
                {
                    "$inc": {"n": 1, **{f"nums.{k}": 1 for k in moved.new_numbers}},
                    "$max": {"expire_at": expiry(day, self.retention_days)},
                    "$setOnInsert": {
                        "tenant_id": tenant_id,
                        "day": day,
                        "object_type": object_type,
                        "status": status,
                        "changes": changes,
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
        scope = Scope(query.tenant_id, query.changes_only, first_day, search)
        days = await self._day_counts(scope, session)
        total = sum(n for _, n in days)
        start = locate(days, (query.page - 1) * query.page_size)
        if start is None:
            return [], total
        order = scope.order(upper=order_bound(start.day + DAY))
        if search is None or search.started is not None:
            cursor = (
                self._rows.find(scope.rows({"order": order}), SHOWN, session=session)
                .sort("order", DESCENDING)
                .hint(scope.by_order)
                .skip(start.skip)
                .limit(query.page_size)
                .batch_size(query.page_size)
            )
            return [history_row(doc) async for doc in cursor], total
        limit = start.skip + query.page_size
        keys = await self._matching_keys(scope, search, order, limit, session)
        docs = await self._fetch(query.tenant_id, keys[start.skip :], session)
        return [history_row(doc) for doc in docs], total

    async def _matching_keys(
        self,
        scope: Scope,
        search: RowSearch,
        order: dict[str, str],
        limit: int,
        session: AsyncClientSession | None = None,
    ) -> list[str]:
        """The first `limit` `order` keys (newest first) of rows matching the search."""
        pattern = {"$regex": search.error_pattern, "$options": "i"}
        # Every row with an error belongs to a run the changes filter keeps (see `has_changes`).
        by_error = {"tenant_id": scope.tenant_id, "order": order, "error": pattern}
        lists = [await self._keys(by_error, FAILED_ROWS, limit, session)]
        kinds = _kinds(search)
        if kinds:
            by_kind = {"tenant_id": scope.tenant_id, "kind": {"$in": kinds}, "order": order}
            if scope.changes_only:
                lists.append(await self._keys(scope.rows(by_kind), CHANGES_BY_KIND, limit, session))
            else:
                lists.append(await self._keys(by_kind, BY_KIND, limit, session))
        if search.number is not None:
            by_number = {
                "tenant_id": scope.tenant_id,
                "numbers": search.number,
                "has_changes": scope.flags,
                "order": order,
            }
            lists.append(await self._keys(by_number, BY_NUMBER, limit, session))
        merged = heapq.merge(*lists, reverse=True)
        unique: list[str] = []
        for key in merged:
            if not unique or unique[-1] != key:
                unique.append(key)
            if len(unique) == limit:
                break
        return unique

    async def _keys(
        self,
        match: dict[str, Any],
        index: str,
        limit: int,
        session: AsyncClientSession | None,
    ) -> list[str]:
        cursor = (
            self._rows.find(match, {"_id": 0, "order": 1}, session=session)
            .sort("order", DESCENDING)
            .hint(index)
            .limit(limit)
        )
        return [doc["order"] async for doc in cursor]

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
        self, scope: Scope, session: AsyncClientSession
    ) -> list[tuple[datetime, int]]:
        """Matching rows per day, newest day first: from the counts, plus (when searching) the
        rows that only match by their error text or a number, counted on their indexes."""
        search = scope.search
        per_day: dict[datetime, int] = {}

        def add(day: datetime, n: int) -> None:
            per_day[day] = per_day.get(day, 0) + n

        if search is not None and search.started is not None and len(search.started) > 10:
            # Part of one day: count that day's rows in the key range (at most one day's rows).
            for day, n in await self._count_by_day(
                scope.rows({"order": scope.order()}), scope.by_order, session
            ):
                add(day, n)
        elif search is None or search.started is not None or _kinds(search):
            cells: dict[str, Any] = {"tenant_id": scope.tenant_id, "day": {"$gte": scope.first_day}}
            if scope.changes_only:
                cells["changes"] = True
            if search is not None and search.started is None:
                cells["$or"] = [
                    {"object_type": {"$in": list(search.types)}},
                    {"status": {"$in": list(search.statuses)}},
                ]
            pipeline: list[dict[str, Any]] = [
                {"$match": cells},
                {"$group": {"_id": "$day", "n": {"$sum": "$n"}}},
            ]
            async for doc in await self._cells.aggregate(pipeline, session=session):
                if search is None or f"{doc['_id']:%Y-%m-%d}".startswith(search.started or ""):
                    add(doc["_id"], doc["n"])
        if search is not None and search.started is None:
            await self._count_text_matches(scope, search, add, session)
        return sorted(((d, n) for d, n in per_day.items() if n > 0), reverse=True)

    async def _count_text_matches(
        self,
        scope: Scope,
        search: RowSearch,
        add: Callable[[datetime, int], None],
        session: AsyncClientSession,
    ) -> None:
        """Add the rows the cells do not count: matched by a number, or only by error text."""
        kinds = _kinds(search)
        since = {"$gte": order_bound(scope.first_day)}
        if search.number is not None:
            # Digits name no type or status, so no row is counted twice with `kinds`.
            counted = f"nums.{search.number}"
            cells: dict[str, Any] = {
                "tenant_id": scope.tenant_id,
                "day": {"$gte": scope.first_day},
                counted: {"$gt": 0},
            }
            if scope.changes_only:
                cells["changes"] = True
            pipeline: list[dict[str, Any]] = [
                {"$match": cells},
                {"$group": {"_id": "$day", "n": {"$sum": f"${counted}"}}},
            ]
            async for doc in await self._cells.aggregate(pipeline, session=session):
                add(doc["_id"], doc["n"])
        only_error: dict[str, Any] = {
            "tenant_id": scope.tenant_id,
            "order": since,
            "error": {"$regex": search.error_pattern, "$options": "i"},
            "kind": {"$nin": kinds},
        }
        if search.number is not None:
            only_error["numbers"] = {"$ne": search.number}
        for day, n in await self._count_by_day(only_error, FAILED_ROWS, session):
            add(day, n)

    async def _count_by_day(
        self, match: dict[str, Any], index: str, session: AsyncClientSession | None
    ) -> list[tuple[datetime, int]]:
        pipeline: list[dict[str, Any]] = [
            {"$match": match},
            {"$group": {"_id": {"$substrBytes": ["$order", 0, 10]}, "n": {"$sum": 1}}},
        ]
        found = await self._rows.aggregate(pipeline, session=session, hint=index)
        return [
            (datetime.strptime(doc["_id"], "%Y-%m-%d").replace(tzinfo=UTC), doc["n"])
            async for doc in found
        ]

    async def export_chunk(
        self, request: HistoryExportRequest, now: datetime
    ) -> tuple[list[HistoryRow], str | None]:
        """Up to `max_rows` rows older than the `after` key, and the key to continue after."""
        search = row_search(request.search)
        first_day = window_start(now, self.retention_days)
        scope = Scope(request.tenant_id, request.changes_only, first_day, search)
        order = scope.order(upper=request.after)
        if search is None or search.started is not None:
            cursor = (
                self._rows.find(scope.rows({"order": order}), SHOWN)
                .sort("order", DESCENDING)
                .hint(scope.by_order)
                .limit(request.max_rows)
                .batch_size(request.max_rows)
            )
            docs = await cursor.to_list()
        else:
            keys = await self._matching_keys(scope, search, order, request.max_rows)
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


@dataclass(frozen=True)
class Moved:
    """A row's move between count cells, with its count values before and after."""

    old: Cell | None
    new: Cell | None
    old_numbers: list[int]
    new_numbers: list[int]


@dataclass(frozen=True)
class Scope:
    """What one list or export looks at: a tenant's rows inside the retention window, maybe
    only those of runs with changes or errors, maybe only those a date search names."""

    tenant_id: str
    changes_only: bool
    first_day: datetime
    search: RowSearch | None

    @property
    def flags(self) -> Any:
        """The `has_changes` values kept (both as two index points, so the sort stays indexed)."""
        return True if self.changes_only else {"$in": [False, True]}

    @property
    def by_order(self) -> str:
        return CHANGES_BY_ORDER if self.changes_only else BY_ORDER

    def rows(self, match: dict[str, Any]) -> dict[str, Any]:
        """`match` on this tenant's rows, narrowed to runs with changes when asked."""
        narrowed = {"tenant_id": self.tenant_id, **match}
        if self.changes_only:
            narrowed["has_changes"] = True
        return narrowed

    def order(self, upper: str | None = None) -> dict[str, str]:
        """The sort-key range: the window, below `upper`, inside a date search's prefix."""
        lower = order_bound(self.first_day)
        bounds = [upper] if upper is not None else []
        started = self.search.started if self.search is not None else None
        if started is not None:
            lower = max(lower, started)
            bounds.append(_after_prefix(started))
        order = {"$gte": lower}
        if bounds:
            order["$lt"] = min(bounds)
        return order


def _after_prefix(prefix: str) -> str:
    """The smallest string above every string that starts with `prefix` (ASCII keys)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _kinds(search: RowSearch) -> list[str]:
    """The kinds ("<type>|<status>") whose type or status the search names."""
    return [
        row_kind(t, s)
        for t in OBJECT_TYPES
        for s in RUN_STATUSES
        if t in search.types or s in search.statuses
    ]
