"""Fill a history database with Sync History rows fast, in the service's own document format.

Rows are built with the service's document helpers (`placed`, `count_cell`) and bulk-inserted,
and the per-day counts are written from the same rows, so the database looks exactly as if the
service had recorded every run itself (checked by `verify`).
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from entrasync_history.adapters.documents import Cell, count_cell, placed, row_key
from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_history.domain.paging import expiry
from pymongo import AsyncMongoClient

TENANT = "c0ffee00-0000-4000-8000-00000000bench"
TYPES = ("user", "group", "device")
QUIET_SHARE = 0.9
"""Runs that changed nothing and did not fail (hidden by the "changes or errors" filter)."""
ERRORS = (
    "Graph answered 503 Service Unavailable (request-id 8c1f...); retries exhausted",
    "AADSTS7000222: The provided client secret keys for app '...' are expired.",
    "safe-delete guardrail: 4100 of 12000 live user objects were not seen in this full run",
)


def rows_for(count: int, retention_days: int, tenant_id: str = TENANT) -> Iterator[dict[str, Any]]:
    """`count` rows (a third per type) of runs evenly spread over the retention window; nine in
    ten runs change nothing."""
    rng = random.Random(7)
    runs = (count + 2) // 3
    newest = datetime.now(UTC) - timedelta(minutes=1)
    step = timedelta(days=retention_days - 1) / max(runs, 1)
    made = 0
    for i in range(runs):
        run_id = f"{tenant_id[-8:]}-run{i:09d}"
        started = newest - i * step
        failed = rng.random() < 0.01
        # Most rounds of a frequently syncing tenant change nothing (issue 16: "empty rounds").
        quiet = not failed and rng.random() < QUIET_SHARE
        for object_type in TYPES:
            if made == count:
                return
            made += 1
            error = rng.choice(ERRORS) if failed and object_type == "user" else None
            fields = {
                "tenant_id": tenant_id,
                "run_id": run_id,
                "object_type": object_type,
                "mode": "delta",
                "reason": "schedule",
                "status": "Failed" if error else "Succeeded",
                "started_at": started,
                "finished_at": started + timedelta(seconds=4),
                "total": rng.randint(0, 20000),
                "changed": 0 if quiet else rng.randint(1, 30),
                "deleted": 0 if quiet else rng.randint(0, 3),
                "has_changes": not quiet,
                "filtered": rng.randint(0, 100),
                **({"error": error} if error else {}),
            }
            yield {"_id": row_key(run_id, object_type), **placed(fields, retention_days)}


async def seed(
    client: AsyncMongoClient[dict[str, Any]],
    database: str,
    count: int,
    retention_days: int = 90,
    tenant_id: str = TENANT,
) -> float:
    """Insert `count` rows plus their per-day counts; returns the seconds it took."""
    began = time.perf_counter()
    store = MongoHistoryStore(client, database, retention_days)
    await store.ensure_indexes()
    db = client[database]
    cells: Counter[Cell] = Counter()
    nums: defaultdict[Cell, Counter[str]] = defaultdict(Counter)
    rows = rows_for(count, retention_days, tenant_id)
    while docs := list(islice(rows, 20_000)):
        for doc in docs:
            if (cell := count_cell(doc)) is not None:
                cells[cell] += 1
                nums[cell].update(str(n) for n in doc.get("numbers", ()))
        await db["history"].insert_many(docs, ordered=False)
    await db["history_counts"].insert_many(
        [
            {
                "_id": cell_id,
                "tenant_id": tenant,
                "day": day,
                "object_type": object_type,
                "status": status,
                "changes": changes,
                "n": n,
                "nums": dict(nums[cell]),
                "expire_at": expiry(day, retention_days),
            }
            for cell, n in cells.items()
            for (cell_id, tenant, day, object_type, status, changes) in [cell]
        ]
    )
    return time.perf_counter() - began
