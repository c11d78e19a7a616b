"""CSV export of Sync History through NATS, with the service's memory watched while it streams.

    uv run python bench/history/csv_export.py [--rows 100000] [--small 10000]

Starts a real mongod and nats-server (`LocalInfra`), seeds two tenants (`--small` and `--rows`
rows), runs the history service as its own process (`entrasync-history`) and exports each
tenant the way the console serves `GET /api/v1/tenants/{id}/history.csv`: `runs.export` chunk
by chunk, each written out before the next is asked for. While it runs, the service's resident
memory is sampled every 10 ms from /proc; the client's Python allocations are traced. Flat
memory means the peak for the large export is no higher than for the small one.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import nats
from entrasync_devtools.infra import LocalInfra
from entrasync_shared.messages import Health, HistoryExportChunk, HistoryExportRequest
from entrasync_shared.natsutil import ApiCallError, call
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient
from seed import seed


def size_mib(path: Path) -> float:
    return path.stat().st_size / 2**20


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def export(
    nc: NatsClient, names: Names, tenant_id: str, out: Path, pid: int, search: str = ""
) -> dict[str, Any]:
    peak = before = rss_kib(pid)
    running = True

    async def watch() -> None:
        nonlocal peak
        while running:
            peak = max(peak, rss_kib(pid))
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    tracemalloc.start()
    began = time.perf_counter()
    after, chunks, rows = None, 0, 0
    with out.open("w", newline="") as sink:
        while True:
            request = HistoryExportRequest(
                tenant_id=tenant_id, search=search, after=after, max_rows=1000
            )
            subject = names.api("history", "runs.export")
            chunk = await call(nc, subject, request, HistoryExportChunk, timeout=30)
            sink.write(chunk.csv)
            chunks, rows = chunks + 1, rows + chunk.rows
            if chunk.next is None:
                break
            after = chunk.next
    seconds = time.perf_counter() - began
    _, client_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    running = False
    await watcher
    with out.open(newline="") as written:
        lines = sum(1 for _ in csv.reader(written))
    assert lines == rows + 1, (lines, rows)
    return {
        "rows": rows,
        "chunks": chunks,
        "mib": size_mib(out),
        "seconds": seconds,
        "service_before_mib": before / 1024,
        "service_peak_mib": peak / 1024,
        "client_peak_mib": client_peak / 2**20,
    }


async def main(rows: int, small: int) -> None:
    with LocalInfra() as infra, tempfile.TemporaryDirectory() as tmp:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            infra.mongodb_uri, tz_aware=True
        )
        db_name = f"bench_export_{uuid.uuid4().hex[:8]}"
        tenants = {"small": ("tenant-small", small), "large": ("tenant-large", rows)}
        for tenant_id, count in tenants.values():
            await seed(client, db_name, count, tenant_id=tenant_id)
        names = Names("bench" + uuid.uuid4().hex[:6])
        env = {
            **os.environ,
            "ENTRASYNC_NATS_URL": infra.nats_url,
            "ENTRASYNC_MONGODB_URI": infra.mongodb_uri,
            "ENTRASYNC_PREFIX": names.prefix,
            "ENTRASYNC_HISTORY_DB": db_name,
            "ENTRASYNC_LOG_LEVEL": "WARNING",
        }
        script = Path(sys.executable).parent / "entrasync-history"
        service = await asyncio.create_subprocess_exec(script, env=env)
        nc = await nats.connect(infra.nats_url)
        try:
            await ready(nc, names)
            print("| export | rows | chunks | CSV MiB | seconds | rows/s | service RSS "
                  "before → peak MiB | client peak MiB |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|")
            runs = [("small", ""), ("large", ""), ("small", ""), ("large", ""), ("large", "user")]
            for label, search in runs:
                tenant_id, _ = tenants[label]
                out = Path(tmp) / f"{label}.csv"
                r = await export(nc, names, tenant_id, out, service.pid, search)
                shown = f'{label}, search "{search}"' if search else label
                print(
                    f"| {shown} | {r['rows']:,} | {r['chunks']} | {r['mib']:.1f} | "
                    f"{r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} | "
                    f"{r['service_before_mib']:.1f} → {r['service_peak_mib']:.1f} | "
                    f"{r['client_peak_mib']:.2f} |"
                )
        finally:
            await nc.drain()
            service.terminate()
            await service.wait()
            await client.drop_database(db_name)
            await client.close()


async def ready(nc: NatsClient, names: Names) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            await call(nc, names.api("history", "health"), None, Health, timeout=1)
            return
        except ApiCallError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.small))
