"""How fast the simulator serves delta pages, next to how fast the syncer's reader takes them.

    uv run python bench/simulator/bench_simulator.py [--users 100000] [--json out.json]

Starts `entrasync-sim serve` with a 100k-user tenant (20k groups, 50k devices) at page size
200, throttling off, then measures full delta rounds:

* served: a lean httpx client walks each round; the simulator's own CPU time (from /proc)
  gives its capacity in pages and objects per CPU-second, the client's wall time what it saw;
  `--clients N` walks N rounds at once to saturate the server. A process renders a round's
  pages only once, so first rounds are timed in `--first-rounds N` fresh simulators and
  pooled (CPU time is counted in 10 ms ticks: one round alone is a coarse sample);
* syncer reader: the syncer's own `HttpxGraphConnector` walks the users round exactly as a
  sync run does, sequentially, page after page (wall time: what the syncer consumes);
* syncer run (`--syncer`, default on): the real syncer app, on a real nats-server started by
  `LocalInfra`, runs a full sync of the tenant (`--syncer-runs N` times per type); its pages
  per second (from `SyncFinished`) are the rate at which entrasync consumes pages in
  practice, and the fastest run is the bar the simulator's first-round capacity must clear;
* memory: the simulator's peak RSS after seeding and after all rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import msal
import nats
import requests
from entrasync_devtools.infra import LocalInfra
from entrasync_shared.messages import (
    CloudEndpoints,
    Credential,
    StartSync,
    SyncFinished,
    TenantRef,
    new_id,
)
from entrasync_shared.natsutil import ensure_streams, failed, ok
from entrasync_shared.subjects import Names
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.adapters.graph import HttpxGraphConnector
from entrasync_syncer.domain import RetryPolicy, full_round_url
from entrasync_syncer.main import build_app
from entrasync_syncer.settings import Settings

_TICKS = os.sysconf("SC_CLK_TCK")
TYPES = ("user", "group", "device")


@dataclass
class Measure:
    """One measured round (or N concurrent rounds)."""

    name: str
    pages: int
    objects: int
    wall_s: float
    server_cpu_s: float
    client_cpu_s: float

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s

    @property
    def objects_per_s(self) -> float:
        return self.objects / self.wall_s

    @property
    def server_pages_per_cpu_s(self) -> float:
        return self.pages / self.server_cpu_s if self.server_cpu_s else float("inf")

    def row(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "pages_per_s": round(self.pages_per_s, 1),
            "objects_per_s": round(self.objects_per_s),
            "server_pages_per_cpu_s": round(self.server_pages_per_cpu_s, 1),
            "server_objects_per_cpu_s": round(self.objects / self.server_cpu_s)
            if self.server_cpu_s
            else None,
            "server_ms_per_page": round(1000 * self.server_cpu_s / self.pages, 3),
            "client_ms_per_page": round(1000 * self.client_cpu_s / self.pages, 3),
        }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _token(sim: SimulatorProcess) -> str:
    tenant = sim.tenants[0]
    with requests.Session() as session:
        session.trust_env = False
        session.verify = sim.ca_file
        app = msal.ConfidentialClientApplication(
            tenant["client_id"],
            client_credential=tenant["client_secret"],
            authority=f"{sim.authority_host}/{tenant['tenant_id']}",
            instance_discovery=False,
            http_client=session,
        )
        result = app.acquire_token_for_client([f"{sim.graph_url}/.default"])
    return str(result["access_token"])


async def _walk(client: httpx.AsyncClient, url: str) -> tuple[int, int]:
    pages = objects = 0
    next_url: str | None = url
    while next_url:
        response = await client.get(next_url)
        response.raise_for_status()
        body = response.json()
        pages += 1
        objects += len(body["value"])
        next_url = body.get("@odata.nextLink")
    return pages, objects


async def served(
    sim: SimulatorProcess, token: str, kind: str, clients: int, label: str = ""
) -> Measure:
    """`clients` concurrent full rounds of `kind` with the syncer's `$select`."""
    url = full_round_url(sim.graph_url, kind)  # type: ignore[arg-type]
    context = ssl.create_default_context(cafile=sim.ca_file)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(verify=context, trust_env=False, headers=headers) as client:
        await client.get(url)  # warm the connection pool and TLS sessions
        server0, client0, wall0 = _cpu_seconds(sim.pid), time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(_walk(client, url) for _ in range(clients)))
        wall = time.perf_counter() - wall0
        client_cpu, server_cpu = time.process_time() - client0, _cpu_seconds(sim.pid) - server0
    pages, objects = sum(r[0] for r in results), sum(r[1] for r in results)
    name = f"served {kind} x{clients}{label}"
    return Measure(name, pages, objects, wall, server_cpu, client_cpu)


async def syncer_reader(sim: SimulatorProcess, token: str, kind: str) -> Measure:
    """One full round through the syncer's Graph adapter, page after page."""
    cloud = _cloud(sim)

    async def bearer(fresh: bool) -> str:
        return token

    connector = HttpxGraphConnector(RetryPolicy(), timeout=60.0)
    pages = objects = 0
    try:
        async with connector.open(cloud) as reader:
            url: str | None = full_round_url(sim.graph_url, kind)  # type: ignore[arg-type]
            server0, client0 = _cpu_seconds(sim.pid), time.process_time()
            wall0 = time.perf_counter()
            while url:
                page = await reader.page(url, bearer)
                pages += 1
                objects += len(page.entries)
                url = page.next_link
            wall = time.perf_counter() - wall0
            client_cpu = time.process_time() - client0
            server_cpu = _cpu_seconds(sim.pid) - server0
    finally:
        await connector.aclose()
    return Measure(f"syncer reader {kind}", pages, objects, wall, server_cpu, client_cpu)


def _cloud(sim: SimulatorProcess) -> CloudEndpoints:
    return CloudEndpoints(
        name="sim",
        authority_host=sim.authority_host,
        graph_url=sim.graph_url,
        ca_pem=Path(sim.ca_file).read_text(),  # noqa: ASYNC240 - once, before timing
    )


async def syncer_run(
    sim: SimulatorProcess, types: tuple[str, ...], timeout: float
) -> dict[str, Any]:
    """A full run of the real syncer app over a real nats-server; pages/s per object type."""
    tenant = sim.tenants[0]
    credential = Credential(
        tenant_id="bench",
        tenant=tenant["domain"],
        client_id=tenant["client_id"],
        client_secret=tenant["client_secret"],
        cloud=_cloud(sim),
        object_types=types,  # type: ignore[arg-type]
    )
    with LocalInfra(mongo=False) as infra:
        names = Names("b" + new_id()[:8])
        nc = await nats.connect(infra.nats_url)
        await ensure_streams(nc.jetstream(), names)
        finished: asyncio.Future[SyncFinished] = asyncio.get_running_loop().create_future()

        async def answer(msg: Any) -> None:
            ref = TenantRef.model_validate_json(msg.data)
            reply = ok(credential) if ref.tenant_id == "bench" else failed("not_found", "no")
            await msg.respond(reply.model_dump_json().encode())

        async def done(msg: Any) -> None:
            if not finished.done():
                finished.set_result(SyncFinished.model_validate_json(msg.data))

        await nc.subscribe(names.api("config", "credential.get"), cb=answer)
        await nc.subscribe(names.run_event("bench", "finished"), cb=done)
        app = build_app(Settings(ENTRASYNC_NATS_URL=infra.nats_url, ENTRASYNC_PREFIX=names.prefix))
        await app.start()
        try:
            command = StartSync(
                id=new_id(),
                run_id=new_id(),
                tenant_id="bench",
                mode="full",
                reason="manual",
                object_types=types,  # type: ignore[arg-type]
            )
            server0, client0 = _cpu_seconds(sim.pid), time.process_time()
            await nc.jetstream().publish(
                names.sync_command("bench"),
                command.model_dump_json().encode(),
                headers={"Nats-Msg-Id": command.id},
            )
            result = await asyncio.wait_for(finished, timeout=timeout)
            server_cpu = _cpu_seconds(sim.pid) - server0
            client_cpu = time.process_time() - client0
        finally:
            await app.stop()
            await nc.drain()
    seconds = max((result.finished_at - result.started_at).total_seconds(), 1e-3)
    pages = sum(r.pages for r in result.results)
    objects = sum(r.total for r in result.results)
    report: dict[str, Any] = {
        "status": result.status,
        "types": list(types),
        "pages": pages,
        "objects": objects,
        "seconds": round(seconds, 2),
        "simulator_cpu_s": round(server_cpu, 2),
        "syncer_process_cpu_s": round(client_cpu, 2),
        "errors": [r.error for r in result.results if r.error],
    }
    if result.status == "Succeeded" and pages:
        report["pages_per_s"] = round(pages / seconds, 1)
        report["objects_per_s"] = round(objects / seconds)
        report["simulator_cpu_share"] = round(server_cpu / seconds, 3)
        report["simulator_ms_per_page"] = round(1000 * server_cpu / pages, 3)
        report["syncer_ms_per_page"] = round(1000 * client_cpu / pages, 3)
        # CPU the syncer spends on a page over CPU the simulator spends serving it: the
        # speed ratio with contention (other processes on the machine) factored out.
        report["cpu_ratio"] = round(client_cpu / server_cpu, 1) if server_cpu else None
    return report


def _simulator(args: argparse.Namespace) -> SimulatorProcess:
    return SimulatorProcess(
        users=args.users,
        groups=args.groups,
        devices=args.devices,
        page_size=args.page_size,
        extra_args=["--throttling", "off"],
    )


async def _first_rounds(sim: SimulatorProcess, token: str) -> list[Measure]:
    return [await served(sim, token, kind, 1, " (first round)") for kind in TYPES]


def _pooled(samples: list[Measure], name: str) -> Measure:
    return Measure(
        name,
        sum(m.pages for m in samples),
        sum(m.objects for m in samples),
        sum(m.wall_s for m in samples),
        sum(m.server_cpu_s for m in samples),
        sum(m.client_cpu_s for m in samples),
    )


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    with _simulator(args) as sim:
        startup = time.perf_counter() - started
        seeded_rss = _peak_rss_mb(sim.pid)
        token = _token(sim)
        samples = await _first_rounds(sim, token)
        rows = [
            await served(sim, token, "user", 1, " (again: rendered pages reused)"),
            await served(sim, token, "user", args.clients, " (concurrent)"),
            await syncer_reader(sim, token, "user"),
        ]
        runs = []
        if args.syncer:
            for kind in TYPES:
                for _ in range(args.syncer_runs):
                    try:
                        runs.append(await syncer_run(sim, (kind,), args.syncer_timeout))
                    except Exception as exc:  # the syncer is another team's moving target
                        runs.append({"types": [kind], "error": repr(exc)})
        peak_rss = _peak_rss_mb(sim.pid)
    # A process renders a round's pages once: each further first round needs a fresh one.
    for _ in range(args.first_rounds - 1):
        with _simulator(args) as fresh:
            samples += await _first_rounds(fresh, _token(fresh))
    firsts = [
        _pooled(
            [m for m in samples if m.name.startswith(f"served {kind} ")],
            f"served {kind} x1 (first round, {args.first_rounds} fresh simulators)",
        )
        for kind in TYPES
    ]
    rows = firsts + rows
    reader = rows[-1]
    comparisons = []
    for first, kind in zip(firsts, TYPES, strict=True):
        rates = [r["pages_per_s"] for r in runs if r.get("types") == [kind] and "pages_per_s" in r]
        # The fastest syncer run sets the bar: the simulator must outpace the syncer at its best.
        fastest = max(rates, default=None)
        comparisons.append(
            {
                "type": kind,
                "simulator_pages_per_cpu_s": round(first.server_pages_per_cpu_s, 1),
                "simulator_ms_per_page_each_first_round": [
                    round(1000 * m.server_cpu_s / m.pages, 3)
                    for m in samples
                    if m.name.startswith(f"served {kind} ")
                ],
                "syncer_pages_per_s": fastest,
                "ratio": round(first.server_pages_per_cpu_s / fastest, 1) if fastest else None,
            }
        )
    return {
        "tenant": {"users": args.users, "groups": args.groups, "devices": args.devices},
        "page_size": args.page_size,
        "startup_s": round(startup, 2),
        "simulator_rss_mb": {"after_seed": round(seeded_rss), "peak": round(peak_rss)},
        "rounds": [m.row() for m in rows],
        "capacity_vs_syncer_reader": round(
            firsts[0].server_pages_per_cpu_s / reader.pages_per_s, 2
        ),
        "syncer_runs": runs,
        "capacity_vs_syncer_run": comparisons,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument(
        "--first-rounds",
        type=_at_least_one,
        default=3,
        metavar="N",
        help="first rounds of each type to time, each in a fresh simulator (pooled)",
    )
    parser.add_argument(
        "--syncer-runs", type=_at_least_one, default=2, metavar="N", help="syncer runs per type"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--syncer-timeout", type=float, default=120.0, metavar="SECONDS")
    parser.add_argument(
        "--syncer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time a full run of the real syncer (starts a nats-server)",
    )
    args = parser.parse_args()
    report = asyncio.run(measure(args))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
