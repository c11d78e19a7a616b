"""History's first effective-membership computation, timed on its own process.

Run by `sync_vs_sdk.py` after the end-to-end full sync:
`python bench/effective_full.py <mongodb uri> <history db> <tenant id> <prefix>`; prints one
JSON line. It calls the very function history's first finish calls (`first_computation` over
`MongoEffective`: every live container's members streamed from the inventory, the index
built, the closure and the role baseline made) on the inventory history has just written.
Nothing is written. History reports no duration of its own computation (its log line says
what was computed, not how long it took), so this is the bench's measure of it: the same code
and data, without the rest of the finish around it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any

from common import report, rss_mb
from entrasync_history.adapters.effective import MongoEffective
from entrasync_history.usecases.effective import Cause, first_computation
from entrasync_shared.subjects import Names
from pymongo import AsyncMongoClient


async def main(mongodb_uri: str, db_name: str, tenant_id: str, prefix: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
    try:
        reader = MongoEffective(client[db_name])
        cause = Cause(Names(prefix), tenant_id, "bench-effective", "finish", datetime.now(UTC))
        before = rss_mb()
        began, cpu = time.perf_counter(), time.process_time()
        work = await first_computation(reader, cause, [])
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        await client.close()
    closure = work.closure.ancestors if work.closure else {}
    report(
        {
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "rss_before_mb": round(before, 1),
            "nested_groups": len(closure),
            "baseline_events": len(work.events),
        }
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
