"""Sync History page query time with many rows stored (default: 1,000,000 for one tenant).

    uv run python bench/history/page_query.py [--rows 1000000] [--samples 200]

Starts a real mongod and nats-server (`LocalInfra`, or MONGODB_URI / NATS_URL when set), seeds
the rows in the service's own format (`seed.py`), checks that pages and totals are right, then
times `runs.list` two ways: the store query alone (`MongoHistoryQueries.history_rows`: counts,
day lookup and the page, in one snapshot) and a full NATS request to the running service
(validation, query, JSON reply). Prints p50/p95/max per scenario in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
from entrasync_devtools.infra import LocalInfra
from entrasync_history.adapters.queries import MongoHistoryQueries
from entrasync_history.adapters.rows import MongoRows
from entrasync_history.main import build_app
from entrasync_history.settings import Settings
from entrasync_shared.messages import HistoryRow, HistoryRunsQuery, Page
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from pymongo import AsyncMongoClient
from seed import TENANT, seed

Probe = Callable[[], Awaitable[Any]]


async def timed(probe: Probe, samples: int) -> list[float]:
    for _ in range(3):
        await probe()  # warm-up
    spent = []
    for _ in range(samples):
        began = time.perf_counter()
        await probe()
        spent.append((time.perf_counter() - began) * 1000)
    return spent


def summary(name: str, spent: list[float]) -> str:
    ordered = sorted(spent)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"| {name} | {statistics.median(ordered):.1f} | {p95:.1f} | {ordered[-1]:.1f} |"


async def check(queries: MongoHistoryQueries, client: Any, db_name: str, rows: int) -> None:
    """Totals and pages from the per-day counts agree with a plain sort of the rows."""
    now = datetime.now(UTC)
    first, total = await queries.history_rows(HistoryRunsQuery(tenant_id=TENANT), now)
    assert total == rows, (total, rows)
    for page in (1, 2, rows // 1000 // 2, rows // 1000):
        query = HistoryRunsQuery(tenant_id=TENANT, page=page, page_size=1000)
        got, _ = await queries.history_rows(query, now)
        cursor = (
            client[db_name]["history"]
            .find({"tenant_id": TENANT}, {"_id": 1})
            .sort("order", -1)
            .skip((page - 1) * 1000)
            .limit(1000)
        )
        expected = [doc["_id"] async for doc in cursor]
        assert [f"{r.run_id}:{r.object_type}" for r in got] == expected, page
    _, changed = await queries.history_rows(
        HistoryRunsQuery(tenant_id=TENANT, changes_only=True), now
    )
    rows_collection = client[db_name]["history"]
    assert changed == await rows_collection.count_documents(
        {"tenant_id": TENANT, "has_changes": True}
    )
    for page in (1, max(1, changed // 1000 // 2), max(1, -(-changed // 1000))):
        query = HistoryRunsQuery(tenant_id=TENANT, page=page, page_size=1000, changes_only=True)
        got, _ = await queries.history_rows(query, now)
        cursor = (
            rows_collection.find({"tenant_id": TENANT, "has_changes": True}, {"_id": 1})
            .sort("order", -1)
            .skip((page - 1) * 1000)
            .limit(1000)
        )
        expected = [doc["_id"] async for doc in cursor]
        assert [f"{r.run_id}:{r.object_type}" for r in got] == expected, ("changes", page)
    _, found = await queries.history_rows(HistoryRunsQuery(tenant_id=TENANT, search="17"), now)
    assert found == await rows_collection.count_documents(
        {"tenant_id": TENANT, "$or": [{"numbers": 17}, {"error": {"$regex": "17"}}]}
    ), "number search total"


async def main(rows: int, samples: int) -> None:
    with LocalInfra() as infra:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            infra.mongodb_uri, tz_aware=True
        )
        db_name = f"bench_history_{uuid.uuid4().hex[:8]}"
        try:
            seconds = await seed(client, db_name, rows)
            print(f"seeded {rows:,} rows for one tenant in {seconds:.1f} s")
            queries = MongoHistoryQueries(client, db_name, MongoRows(client[db_name], 90))
            await check(queries, client, db_name, rows)
            print("pages and totals verified against a plain sort")
            await measure(queries, infra, db_name, rows, samples)
        finally:
            await client.drop_database(db_name)
            await client.close()


async def measure(
    queries: MongoHistoryQueries, infra: LocalInfra, db_name: str, rows: int, samples: int
) -> None:
    rng = random.Random(1)

    def store(
        size: int, page: Callable[[], int] = lambda: 1, search: str = "", changes: bool = False
    ) -> Probe:
        async def probe() -> Any:
            query = HistoryRunsQuery(
                tenant_id=TENANT, page=page(), page_size=size, search=search, changes_only=changes
            )
            return await queries.history_rows(query, datetime.now(UTC))

        return probe

    now = datetime.now(UTC)
    _, changed_rows = await queries.history_rows(
        HistoryRunsQuery(tenant_id=TENANT, changes_only=True), now
    )
    day = (now - timedelta(days=30)).strftime("%Y-%m-%d")
    minute = (now - timedelta(days=30)).strftime("%Y-%m-%d %H:%M")

    last50, last1000 = rows // 50, rows // 1000
    scenarios: list[tuple[str, Probe]] = [
        ("first page, 50 rows", store(50)),
        ("first page, 1000 rows", store(1000)),
        ("random page, 50 rows", store(50, lambda: rng.randint(1, last50))),
        ("random page, 100 rows", store(100, lambda: rng.randint(1, rows // 100))),
        ("random page, 1000 rows", store(1000, lambda: rng.randint(1, last1000))),
        ("last page, 1000 rows", store(1000, lambda: last1000)),
        ('search "device" (a type), random page of 50', store(
            50, lambda: rng.randint(1, rows // 3 // 50), "device")),
        ('search "failed" (a status), first page of 50', store(50, search="failed")),
        ('search "AADSTS7000222" (error text), first 50', store(50, search="AADSTS7000222")),
        ('search ".*" (no match), first page of 50', store(50, search=".*")),
        ("changes only, first page, 50 rows", store(50, changes=True)),
        ("changes only, random page, 50 rows", store(
            50, lambda: rng.randint(1, max(1, changed_rows // 50)), changes=True)),
        ("changes only, last page, 1000 rows", store(
            1000, lambda: max(1, -(-changed_rows // 1000)), changes=True)),
        ('changes only, search "device", random page of 50', store(
            50, lambda: rng.randint(1, max(1, changed_rows // 3 // 50)), "device", True)),
        (f'search "{day}" (a day as shown), first page of 50', store(50, search=day)),
        (f'search "{minute}" (a minute as shown), first 50', store(50, search=minute)),
        ('search "17" (a number), first page of 50', store(50, search="17")),
        ('search "17" (a number), changes only, first 50', store(50, search="17", changes=True)),
    ]  # fmt: skip
    print(f"\nstore query (MongoHistoryQueries.history_rows), {samples} samples each")
    print("| scenario | p50 ms | p95 ms | max ms |\n|---|---|---|---|")
    for name, probe in scenarios:
        print(summary(name, await timed(probe, samples)))

    names = Names("bench" + uuid.uuid4().hex[:6])
    settings = Settings(
        ENTRASYNC_NATS_URL=infra.nats_url,
        ENTRASYNC_MONGODB_URI=infra.mongodb_uri,
        ENTRASYNC_PREFIX=names.prefix,
        ENTRASYNC_HISTORY_DB=db_name,
        ENTRASYNC_LOG_LEVEL="WARNING",
    )
    nc = await nats.connect(infra.nats_url)
    try:
        async with build_app(settings):

            def api(size: int, page: Callable[[], int] = lambda: 1) -> Probe:
                async def probe() -> Any:
                    query = HistoryRunsQuery(tenant_id=TENANT, page=page(), page_size=size)
                    subject = names.api("history", "runs.list")
                    return await call(nc, subject, query, Page[HistoryRow])

                return probe

            print(f"\nNATS request to the service (runs.list), {samples} samples each")
            print("| scenario | p50 ms | p95 ms | max ms |\n|---|---|---|---|")
            for name, probe in (
                ("first page, 50 rows", api(50)),
                ("random page, 50 rows", api(50, lambda: rng.randint(1, last50))),
                ("random page, 1000 rows", api(1000, lambda: rng.randint(1, last1000))),
            ):
                print(summary(name, await timed(probe, samples)))
    finally:
        await nc.drain()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.samples))
