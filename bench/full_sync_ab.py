"""A/B of one full sync end to end between source trees, interleaved, with CPU per process.

    python bench/full_sync_ab.py --scale 0.3 --rounds 3 /path/to/tree-a /path/to/tree-b

Each tree is a checkout of entrasync with its own environment (`git worktree add --detach
/tmp/old <rev> && cd /tmp/old && uv sync --frozen --all-packages`). Each round runs every tree
once, in turn (A, B, A, B, ...), so both see the same machine load. A run starts fresh local
infrastructure and a simulator seeded like `make bench` at `--scale`, warms the simulator (one
untimed fetch of every page), then times config + history + syncer (the tree's own processes,
started by the tree's `bench/sync_vs_sdk.py` helpers) from the full sync command to history's
`sync.recorded`, and reads the CPU seconds history, the syncer, mongod and nats-server spent on it
from /proc. The table gives each tree's median and its ratio to the first tree; the JSON goes to
bench/results/ab-<time>.json.

CPU seconds are steadier than wall time on a shared machine: a tenant's pipeline is one message
at a time, so history and mongod mostly take turns, and their CPU adds up to most of the wall
time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("e2e_s", "history_cpu_s", "mongod_cpu_s", "syncer_cpu_s", "nats_cpu_s", "history_rss_mb")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def infrastructure_pids(workdir: str) -> dict[str, int]:
    """mongod's and nats-server's pids: the processes whose command line names `workdir`."""
    found: dict[str, int] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if workdir in command:
            for name in ("mongod", "nats-server"):
                if name in command:
                    found[name.split("-")[0]] = int(pid)
    return found


async def probe(scale: float) -> dict[str, Any]:
    """One measured full sync, with the harness of the tree this runs in (cwd: its bench/)."""
    sys.path.insert(0, str(Path.cwd()))
    import nats
    import sync_vs_sdk as b  # the tree's own harness
    from entrasync_devtools.keys import new_encryption_key
    from entrasync_devtools.stack import ServiceStack
    from entrasync_shared.subjects import Names

    try:
        from entrasync_devtools.infra import LocalInfra
    except ImportError:  # trees from before local infrastructure moved to devtools
        from entrasync_shared.infra import LocalInfra  # type: ignore[no-redef]

    workdir = Path(tempfile.mkdtemp(prefix="entrasync-ab-"))
    with (
        LocalInfra(workdir=workdir / "infra", use_env=False) as infra,
        b.simulator(b.sizes(scale), seed=1) as big,
    ):
        b.run_json([sys.executable, str(b.BENCH / "ceiling.py"), b.target_of(big).dumps()])
        names = Names(b.PREFIX)
        extra = {
            "ENTRASYNC_CLOUDS": json.dumps({"bench": b.cloud(big)}),
            "ENTRASYNC_CONFIG_ENCRYPTION_KEY": new_encryption_key(),
            "ENTRASYNC_CONFIG_DB": "bench_config",
            "ENTRASYNC_HISTORY_DB": "bench_history",
            "ENTRASYNC_HISTORY_FINISH_MAX_WAITS": "3600",
        }
        env = b.service_env(infra, names.prefix, extra)
        stack = ServiceStack(
            infra.nats_url, infra.mongodb_uri, workdir, extra, prefix=b.PREFIX, services=("config",)
        )
        started: list[Any] = []
        async with stack:
            nc = await nats.connect(infra.nats_url)
            try:
                for name in ("history", "syncer"):
                    started.append(b.Service(name, env, workdir / f"{name}.log"))
                    await started[-1].healthy(nc, names)
                history, syncer = started
                tenant = await b.register(nc, names, big, "bench")
                pids = {
                    "history": history.process.pid,
                    "syncer": syncer.process.pid,
                    **infrastructure_pids(str(workdir)),
                }
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                full = await b.timed_run(nc, names, tenant.id, "full")
                after = {name: cpu_seconds(pid) for name, pid in pids.items()}
                rss = history.peak_rss_mb
            finally:
                for service in started:
                    service.stop()
                await nc.drain()
    return {
        "e2e_s": round(full.end_to_end_s, 2),
        "sync_s": round(full.sync_s, 2),
        "status": full.recorded_status,
        "history_rss_mb": round(rss, 1),
        **{f"{name}_cpu_s": round(after[name] - before[name], 2) for name in pids},
    }


def run_tree(tree: Path, scale: float) -> dict[str, Any]:
    python = tree / ".venv" / "bin" / "python"
    if not python.exists():
        sys.exit(f"{tree}: no .venv (run `uv sync --frozen --all-packages` there first)")
    done = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--probe", str(scale)],
        cwd=tree / "bench",
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{tree}: the probe failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def revision(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or str(tree)


def summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    medians = {
        tree: {m: round(statistics.median(r[m] for r in results), 2) for m in METRICS}
        for tree, results in runs.items()
    }
    first = next(iter(medians.values()))
    for values in medians.values():
        work = values["history_cpu_s"] + values["mongod_cpu_s"]
        values["history_plus_mongod_cpu_vs_first"] = round(
            work / (first["history_cpu_s"] + first["mongod_cpu_s"]), 2
        )
        values["e2e_vs_first"] = round(values["e2e_s"] / first["e2e_s"], 2)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path, help="checkouts to compare, baseline first")
    parser.add_argument("--scale", type=float, default=0.3, help="1.0 = make bench's tenant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probe", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe is not None:
        print(json.dumps(asyncio.run(probe(args.probe))))
        return
    if len(args.trees) < 2 or args.rounds < 1:
        parser.error("give at least two trees and --rounds of 1 or more")
    labels = {tree: f"{revision(tree)} ({tree})" for tree in args.trees}
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in labels.values()}
    for round_ in range(1, args.rounds + 1):
        for tree, label in labels.items():
            began = time.monotonic()
            result = run_tree(tree, args.scale)
            runs[label].append(result)
            print(f"round {round_} {label}: {result} ({time.monotonic() - began:.0f} s)")
    medians = summary(runs)
    for label, values in medians.items():
        print(f"{label}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    out = RESULTS / f"ab-{stamp}.json"
    out.write_text(
        json.dumps({"scale": args.scale, "runs": runs, "medians": medians}, indent=2) + "\n"
    )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
