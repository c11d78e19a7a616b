"""Many tenants on one installation: `make bench-tenants`.

`uv run python bench/tenants.py [--tenants 1000] [--steady-seconds 600] [--big-users 100000]`
starts one NATS, one MongoDB and the Graph simulator (the small tenants; the big tenant in a
simulator process of its own), runs config, scheduler, syncer and history replicas as processes
and measures (see bench/README.md, "Many tenants"):

1. first sync: the time until every tenant's first run is recorded, with one history replica
   (an installation of its own, first sync only) and with `--history-replicas`;
2. steady state at a 60 s interval with 1% of the tenants changing per minute: runs per minute,
   duplicate runs and missed slots, CPU and RSS per process, change -> event latency, NATS and
   MongoDB operations per run;
3. head-of-line blocking: while the big tenant runs its first full scan, small tenants' change
   -> event latency (each change followed by `sync_now`); the small tenants' polling is paused
   first (their interval raised to a week), so the check meets the write path, not the syncers'
   command queue — `--hol-under-load` keeps them polling.

Writes bench/results/tenants-<stamp>.json and bench/results/tenants-latest.json; prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, KeysView
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
from common import Target, client_credentials_token, cpu_seconds, rss_mb
from common import peak_rss_mb as hwm_mb
from entrasync_devtools.infra import LocalInfra, die_with_parent, free_port
from entrasync_devtools.keys import new_encryption_key
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    StartSync,
    SyncFinished,
    SyncNow,
    SyncNowAccepted,
    SyncRecordedEvent,
    Tenant,
    TenantCreate,
    TenantRef,
    TenantUpdate,
)
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES, Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.domain import full_round_url
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from pymongo import AsyncMongoClient
from slots import Command, Recorded, count_slots, percentile

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
PAGE_SIZE = 200
BIG_INTERVAL = 7 * 24 * 3600
TARGETS = {
    "duplicate_runs": "== 0",
    "missed_slots": "== 0",
    "small_tenant_event_p95_during_big_full_s": "<= 2",
    "history_replicas_speedup": ">= 1.6",
    "history_peak_rss_mb": "<= 250",
}


# -- processes ------------------------------------------------------------------------------


@dataclass
class Replica:
    """One service process (`entrasync-<name>`), with its own log and health port."""

    name: str
    index: int
    env: dict[str, str]
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        env = {**self.env, "ENTRASYNC_HEALTH_PORT": str(self.port)}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / f"entrasync-{self.name}")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )

    @property
    def label(self) -> str:
        return f"{self.name}-{self.index}"

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.label}.log"

    async def ready(self, client: httpx.AsyncClient, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited:\n{self.log.read_text()[-3000:]}")
            try:
                response = await client.get(f"http://127.0.0.1:{self.port}/readyz")
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.label} not ready within {within:.0f} s")
            await asyncio.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Meter:
    """CPU time and memory of an installation's processes between two readings; a process
    started in between counts from its start."""

    def __init__(self, site: Installation) -> None:
        self.site = site
        self.began = time.monotonic()
        self.cpu = {name: cpu_seconds(pid) for name, pid in site.pids().items()}

    def read(self) -> dict[str, dict[str, float]]:
        wall = time.monotonic() - self.began
        result = {}
        for name, pid in self.site.pids().items():
            used = cpu_seconds(pid) - self.cpu.get(name, 0.0)
            result[name] = {
                "cpu_s": round(used, 2),
                "cpu_percent": round(100 * used / wall, 1),
                "rss_mb": round(rss_mb(pid), 1),
                "peak_rss_mb": round(hwm_mb(pid), 1),
            }
        return result


# -- what the bench watches on the bus --------------------------------------------------------


class Watcher:
    """Commands (run -> slot), recorded runs (from the events stream: what was stored, not
    what was sent), and the public change events of the objects the bench changed."""

    def __init__(self, nc: NatsClient, names: Names) -> None:
        self.nc, self.names = nc, names
        self.commands: dict[str, Command] = {}
        self.recorded: list[Recorded] = []
        self.first_recorded_at: dict[str, float] = {}
        self.run_recorded: dict[str, asyncio.Event] = {}
        self.tenant_recorded: dict[str, asyncio.Event] = {}
        self.finished_tenants: set[str] = set()
        self.changes: dict[tuple[str, str], float] = {}
        self.arrived: dict[tuple[str, str], asyncio.Future[float]] = {}

    async def start(self) -> None:
        await self.nc.subscribe(self.names.sync_commands, cb=self._on_command)
        await self.nc.jetstream().subscribe(
            self.names.sync_recorded_all,
            stream=self.names.events_stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
            cb=self._on_recorded,
        )

    async def watch_finished(self) -> None:
        """The syncers' `finished` run events (which tenants the syncers are done with)."""
        await self.nc.subscribe(self.names.run_events_all, cb=self._on_run_event)

    async def _on_run_event(self, msg: Msg) -> None:
        if msg.subject.endswith(".finished"):
            self.finished_tenants.add(SyncFinished.model_validate_json(msg.data).tenant_id)

    async def watch_changes(self) -> None:
        """Users' `updated` events from now on: the bench changes users only, and anything wider
        (a big tenant's first scan: hundreds of thousands of `created`) would swamp it."""
        updated = self.names.directory_event("*", "user", "updated")
        await self.nc.subscribe(updated, cb=self._on_change, pending_msgs_limit=-1)

    async def _on_command(self, msg: Msg) -> None:
        command = StartSync.model_validate_json(msg.data)
        self.commands[command.run_id] = Command(
            command.run_id, command.tenant_id, command.at.timestamp(), command.reason
        )

    async def _on_recorded(self, msg: Msg) -> None:
        data = SyncRecordedEvent.model_validate_json(msg.data).data
        run = Recorded(
            data.run_id, data.tenant_id, data.started_at.timestamp(), data.reason, data.status
        )
        self.recorded.append(run)
        self.first_recorded_at.setdefault(data.tenant_id, time.monotonic())
        self.run_recorded.setdefault(data.run_id, asyncio.Event()).set()
        self.tenant_recorded.setdefault(data.tenant_id, asyncio.Event()).set()

    async def _on_change(self, msg: Msg) -> None:
        data = json.loads(msg.data)["data"]
        key = (data["tenant_id"], data["object_id"])
        changed_at = self.changes.pop(key, None)
        if changed_at is not None:
            arrived = time.monotonic()
            waiting = self.arrived.pop(key, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(arrived - changed_at)

    def changed(self, tenant_id: str, object_id: str) -> asyncio.Future[float]:
        """Note a change made just now; the future resolves with its change -> event latency."""
        self.changes[(tenant_id, object_id)] = time.monotonic()
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.arrived[(tenant_id, object_id)] = future
        return future

    def recorded_event(self, run_id: str) -> asyncio.Event:
        return self.run_recorded.setdefault(run_id, asyncio.Event())


# -- the installation -----------------------------------------------------------------------


@dataclass
class Sims:
    small: SimulatorProcess
    big: SimulatorProcess

    def clouds(self) -> str:
        return json.dumps(
            {
                name: {
                    "authority_host": sim.authority_host,
                    "graph_url": sim.graph_url,
                    "ca_file": sim.ca_file,
                }
                for name, sim in (("sim", self.small), ("simbig", self.big))
            }
        )


@dataclass
class Installation:
    """One prefix, its databases and its services: config, history, syncers, schedulers."""

    infra: LocalInfra
    sims: Sims
    workdir: Path
    prefix: str
    history_replicas: int
    args: argparse.Namespace
    replicas: list[Replica] = field(default_factory=list)

    @property
    def names(self) -> Names:
        return Names(self.prefix)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
        env.update(
            ENTRASYNC_NATS_URL=self.infra.nats_url,
            ENTRASYNC_MONGODB_URI=self.infra.mongodb_uri,
            ENTRASYNC_PREFIX=self.prefix,
            ENTRASYNC_CLOUDS=self.sims.clouds(),
            ENTRASYNC_CONFIG_ENCRYPTION_KEY=new_encryption_key(),
            ENTRASYNC_CONFIG_DB=f"{self.prefix}_config",
            ENTRASYNC_HISTORY_DB=f"{self.prefix}_history",
            ENTRASYNC_HISTORY_FINISH_MAX_WAITS="3600",
            PYTHONUNBUFFERED="1",
        )
        return env

    async def start(self, services: Iterable[tuple[str, int]]) -> None:
        env = self.env() if not self.replicas else self.replicas[0].env
        started = [
            Replica(name, index, env, self.workdir)
            for name, count in services
            for index in range(count)
        ]
        self.replicas += started
        async with httpx.AsyncClient(timeout=2) as client:
            await asyncio.gather(*(replica.ready(client) for replica in started))

    def pids(self) -> dict[str, int]:
        pids = {replica.label: replica.process.pid for replica in self.replicas}
        pids["simulator"], pids["simulator-big"] = self.sims.small.pid, self.sims.big.pid
        return {**pids, **self.infra.pids}

    def of(self, name: str) -> list[str]:
        return [replica.label for replica in self.replicas if replica.name == name]

    def stop(self) -> None:
        for replica in reversed(self.replicas):
            replica.stop()


async def register(
    nc: NatsClient,
    names: Names,
    apps: list[dict[str, Any]],
    cloud: str,
    interval: int,
    concurrency: int = 16,
) -> dict[str, str]:
    """Register the simulator's tenants through config's API, concurrently; sim tenant GUID ->
    entrasync tenant id."""
    gate = asyncio.Semaphore(concurrency)

    async def one(app: dict[str, Any]) -> tuple[str, str]:
        async with gate:
            profile = await call(
                nc,
                names.api("config", "profile.create"),
                CredentialProfileCreate(
                    name=f"bench {app['domain']}",
                    client_id=app["client_id"],
                    client_secret=app["client_secret"],
                ),
                CredentialProfile,
                timeout=60,
            )
            tenant = await call(
                nc,
                names.api("config", "tenant.create"),
                TenantCreate(
                    tenant=app["domain"],
                    cloud=cloud,
                    profile_id=profile.id,
                    interval_seconds=interval,
                ),
                Tenant,
                timeout=60,
            )
        return app["tenant_id"], tenant.id

    return dict(await asyncio.gather(*(one(app) for app in apps)))


async def nats_counters(client: httpx.AsyncClient, monitor: str) -> dict[str, int]:
    varz = (await client.get(f"{monitor}/varz")).json()
    jsz = (await client.get(f"{monitor}/jsz")).json()
    return {
        "in_msgs": varz["in_msgs"],
        "out_msgs": varz["out_msgs"],
        "jetstream_api_calls": jsz.get("api", {}).get("total", 0),
    }


async def mongo_counters(mongo: AsyncMongoClient[Any]) -> dict[str, int]:
    status = await mongo.admin.command("serverStatus")
    return {f"mongodb_{name}": int(n) for name, n in status["opcounters"].items()}


def per_run(before: dict[str, int], after: dict[str, int], runs: int) -> dict[str, float]:
    return {name: round((after[name] - before[name]) / max(runs, 1), 1) for name in after}


# -- phases ---------------------------------------------------------------------------------


async def warm(sim: SimulatorProcess, apps: list[dict[str, Any]], concurrency: int = 8) -> float:
    """Untimed: read every tenant's three rounds once, so the simulator has rendered every
    object before anything is measured (it renders an object the first time a round reads it)."""
    began = time.monotonic()
    gate = asyncio.Semaphore(concurrency)
    tls = ssl.create_default_context(cafile=sim.ca_file)
    async with httpx.AsyncClient(verify=tls, trust_env=False, timeout=60) as client:

        async def one(app: dict[str, Any]) -> None:
            target = Target(
                sim.graph_url,
                sim.authority_host,
                sim.ca_file,
                app["domain"],
                app["client_id"],
                app["client_secret"],
            )
            async with gate:
                token = await client_credentials_token(client, target)
                headers = {"Authorization": f"Bearer {token}"}
                # Its tenants sync the default types: warm those rounds only.
                for object_type in DEFAULT_OBJECT_TYPES:
                    link: str | None = full_round_url(sim.graph_url, object_type)
                    while link:
                        response = await client.get(link, headers=headers)
                        response.raise_for_status()
                        link = response.json().get("@odata.nextLink")

        await asyncio.gather(*(one(app) for app in apps))
    return time.monotonic() - began


async def first_sync(
    site: Installation, nc: NatsClient, watcher: Watcher, apps: list[dict[str, Any]]
) -> tuple[dict[str, str], dict[str, Any]]:
    """Register every tenant with no scheduler running, then start the schedulers: every
    tenant is due at once; time until each one's first run is recorded."""
    args, names = site.args, site.names
    began = time.monotonic()
    ids = await register(nc, names, apps, "sim", args.interval)
    registered = time.monotonic() - began
    print(f"tenants: {len(ids)} registered in {registered:.1f} s", file=sys.stderr)
    meter = Meter(site)
    started = time.monotonic()
    await site.start([("scheduler", args.scheduler_replicas)])
    wanted = set(ids.values())
    await until_all(wanted, watcher.first_recorded_at.keys(), "a recorded run", args)
    wall = max(watcher.first_recorded_at[t] for t in wanted) - started
    objects = len(apps) * (args.users + args.groups + args.devices)
    statuses = [r.status for r in watcher.recorded if r.tenant_id in wanted]
    return ids, {
        "tenants": len(wanted),
        "history_replicas": site.history_replicas,
        "registration_s": round(registered, 1),
        "first_sync_all_s": round(wall, 1),
        "tenants_per_s": round(len(wanted) / wall, 2),
        "objects_per_s": round(objects / wall, 1),
        "failed_first_runs": sum(status != "Succeeded" for status in statuses),
        "processes": meter.read(),
    }


async def until_all(
    wanted: set[str], seen: KeysView[str] | set[str], what: str, args: argparse.Namespace
) -> None:
    deadline = time.monotonic() + args.first_sync_timeout
    while not wanted <= seen:
        if time.monotonic() > deadline:
            missing = len(wanted - seen)
            raise TimeoutError(
                f"{missing} tenants without {what} after {args.first_sync_timeout} s"
            )
        await asyncio.sleep(0.2)


async def history_drain(
    infra: LocalInfra, sims: Sims, workdir: Path, args: argparse.Namespace, history: int
) -> dict[str, Any]:
    """History's throughput on the first-sync load alone: every tenant's first run is read and
    published by the syncers with no history running; then `history` replicas start and the
    time until every run is recorded is history's own (the same backlog for every count)."""
    prefix = f"tnd{history}"
    site = Installation(infra, sims, workdir / prefix, prefix, history, args)
    site.workdir.mkdir(parents=True)
    nc = await nats.connect(infra.nats_url)
    print(f"tenants: history drain with {history} replica(s) ...", file=sys.stderr)
    try:
        await site.start([("config", 1), ("syncer", args.syncers)])
        watcher = Watcher(nc, site.names)
        await watcher.start()
        await watcher.watch_finished()
        # A week's interval: no scheduled run follows a first one into the backlog.
        ids = await register(nc, site.names, sims.small.tenants, "sim", BIG_INTERVAL)
        began = time.monotonic()
        await site.start([("scheduler", args.scheduler_replicas)])
        wanted = set(ids.values())
        await until_all(wanted, watcher.finished_tenants, "a finished run", args)
        read = time.monotonic() - began
        meter = Meter(site)
        began = time.monotonic()
        await site.start([("history", history)])
        await until_all(wanted, watcher.first_recorded_at.keys(), "a recorded run", args)
        wall = max(watcher.first_recorded_at[t] for t in wanted) - began
        processes = meter.read()
    finally:
        site.stop()
        await nc.drain()
    await forget(infra, prefix)
    objects = len(wanted) * (args.users + args.groups + args.devices)
    print(f"tenants: {history} history replica(s) drained in {wall:.1f} s", file=sys.stderr)
    return {
        "history_replicas": history,
        "syncers_read_all_s": round(read, 1),
        "drain_s": round(wall, 1),
        "objects_per_s": round(objects / wall, 1),
        "runs_per_s": round(len(wanted) / wall, 2),
        "processes": processes,
    }


async def steady(
    site: Installation,
    watcher: Watcher,
    control: SimulatorControl,
    ids: dict[str, str],
    mongo: AsyncMongoClient[Any],
) -> dict[str, Any]:
    """`--steady-seconds` of the schedule with `--change-share` of the tenants changing per
    minute (one user each, spread over the minute)."""
    args, rng = site.args, random.Random(22)
    await watcher.watch_changes()
    async with httpx.AsyncClient(timeout=10) as client:
        nats_before = await nats_counters(client, site.infra.nats_monitor_url)
        mongo_before = await mongo_counters(mongo)
        meter = Meter(site)
        window_start, recorded_before = time.time(), len(watcher.recorded)
        changes = await make_changes(args, rng, watcher, control, ids, args.steady_seconds)
        window_end, recorded = time.time(), len(watcher.recorded) - recorded_before
        nats_after = await nats_counters(client, site.infra.nats_monitor_url)
        mongo_after = await mongo_counters(mongo)
        processes = meter.read()
    # Runs of the last whole slot may still be going: give them one interval to be recorded.
    await settle(watcher, window_end, args.interval)
    report = count_slots(
        ids.values(), watcher.commands, watcher.recorded, args.interval, (window_start, window_end)
    )
    minutes = report.slots_checked / max(len(ids), 1) * args.interval / 60
    schedulers = [processes[label] for label in site.of("scheduler")]
    per_1000 = 1000 / len(ids)
    latencies = [f.result() for f in changes if f.done()]
    return {
        "seconds": round(window_end - window_start, 1),
        "slots": [report.first_slot, report.last_slot],
        "slots_checked": report.slots_checked,
        "runs": report.runs,
        "runs_per_minute": round(report.runs / minutes, 1) if minutes else None,
        "expected_runs_per_minute": round(len(ids) * 60 / args.interval, 1),
        "duplicate_runs": report.duplicate_runs,
        "missed_slots": report.missed_slots,
        "failed_runs": report.failed_runs,
        "examples": report.examples,
        "changes": len(changes),
        "changes_without_event": len(changes) - len(latencies),
        "change_to_event_p50_s": _rounded(percentile(latencies, 0.5)),
        "change_to_event_p95_s": _rounded(percentile(latencies, 0.95)),
        "scheduler_cpu_percent_per_1000_tenants": round(
            sum(s["cpu_percent"] for s in schedulers) * per_1000, 1
        ),
        "scheduler_rss_mb": max(s["rss_mb"] for s in schedulers),
        # Per run recorded while the counters ran (partial slots at both ends included).
        "per_run": {
            **per_run(nats_before, nats_after, recorded),
            **per_run(mongo_before, mongo_after, recorded),
        },
        "processes": processes,
    }


async def make_changes(
    args: argparse.Namespace,
    rng: random.Random,
    watcher: Watcher,
    control: SimulatorControl,
    ids: dict[str, str],
    seconds: float,
) -> list[asyncio.Future[float]]:
    per_minute = max(1, round(len(ids) * args.change_share))
    pause = 60 / per_minute
    changes: list[asyncio.Future[float]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sim_tenant = rng.choice(list(ids))
        changes.append(await change_one_user(rng, watcher, control, sim_tenant, ids[sim_tenant]))
        await asyncio.sleep(max(0.0, min(pause, end - time.monotonic())))
    return changes


async def change_one_user(
    rng: random.Random,
    watcher: Watcher,
    control: SimulatorControl,
    sim_tenant: str,
    tenant_id: str,
) -> asyncio.Future[float]:
    users = await asyncio.to_thread(control.truth, sim_tenant, "user")
    user = rng.choice(users)["id"]
    title = f"bench {rng.getrandbits(32):08x}"
    operation = {"op": "update", "type": "user", "id": user, "attrs": {"jobTitle": title}}
    arrived = watcher.changed(tenant_id, user)  # the clock starts before the change is made
    await asyncio.to_thread(control.mutate, sim_tenant, [operation])
    return arrived


async def settle(watcher: Watcher, window_end: float, interval: int) -> None:
    """Wait (at most one interval) until every command of the window's slots is recorded."""
    deadline = time.monotonic() + interval
    last_slot_start = math.floor(window_end / interval) * interval
    while time.monotonic() < deadline:
        open_runs = [
            run_id
            for run_id, command in list(watcher.commands.items())
            if command.slot_start < last_slot_start and not watcher.recorded_event(run_id).is_set()
        ]
        if not open_runs:
            return
        await asyncio.sleep(0.5)


QUIET_INTERVAL = 7 * 24 * 3600


async def quiet(nc: NatsClient, names: Names, tenant_ids: Iterable[str]) -> None:
    """Raise every small tenant's interval to a week and wait until no command is queued and
    history has applied everything: what follows meets only the big scan and the probes."""
    gate = asyncio.Semaphore(16)

    async def one(tenant_id: str) -> None:
        async with gate:
            tenant = await call(
                nc, names.api("config", "tenant.get"), TenantRef(tenant_id=tenant_id), Tenant
            )
            update = TenantUpdate(
                tenant_id=tenant_id, version=tenant.version, interval_seconds=QUIET_INTERVAL
            )
            await call(nc, names.api("config", "tenant.update"), update, Tenant, timeout=60)

    began = time.monotonic()
    await asyncio.gather(*(one(t) for t in tenant_ids))
    js = nc.jetstream()
    while True:
        commands = (await js.stream_info(names.commands_stream)).state.messages
        pipeline = 0
        for consumer in await js.consumers_info(names.pipeline_stream):
            pipeline += consumer.num_pending + consumer.num_ack_pending
        if commands == 0 and pipeline == 0:
            break
        await asyncio.sleep(1)
    print(f"tenants: small tenants quiet ({time.monotonic() - began:.0f} s)", file=sys.stderr)


async def head_of_line(
    site: Installation,
    nc: NatsClient,
    watcher: Watcher,
    control: SimulatorControl,
    ids: dict[str, str],
) -> dict[str, Any]:
    """Register the big tenant (its first full scan starts at once); while it runs, change a
    small tenant's user every `--probe-every` seconds and ask for its sync at once."""
    args, names, rng = site.args, site.names, random.Random(23)
    big_app = site.sims.big.tenants[0]
    if not args.hol_under_load:
        await quiet(nc, names, ids.values())
    meter = Meter(site)
    began = time.monotonic()
    big = await register(nc, names, [big_app], "simbig", BIG_INTERVAL)
    big_id = big[big_app["tenant_id"]]
    big_done = asyncio.create_task(_first_record_of(watcher, big_id))
    probes: list[asyncio.Future[float]] = []
    while not big_done.done() or len(probes) < args.min_probes:
        sim_tenant = rng.choice(list(ids))
        probe = await change_one_user(rng, watcher, control, sim_tenant, ids[sim_tenant])
        now = SyncNow(tenant_id=ids[sim_tenant])
        await call(nc, names.api("scheduler", "sync_now"), now, SyncNowAccepted)
        probes.append(probe)
        await asyncio.sleep(args.probe_every)
    big_s = await big_done - began
    await asyncio.wait(probes, timeout=args.probe_timeout)
    latencies = [p.result() for p in probes if p.done()]
    return {
        "small_tenants_polling": args.hol_under_load,
        "big_tenant_objects": args.big_users + args.big_users // 5 + args.big_users // 2,
        "big_first_sync_end_to_end_s": round(big_s, 1),
        "probes": len(probes),
        "probes_without_event": len(probes) - len(latencies),
        "small_tenant_event_p50_s": _rounded(percentile(latencies, 0.5)),
        "small_tenant_event_p95_s": _rounded(percentile(latencies, 0.95)),
        "small_tenant_event_max_s": _rounded(max(latencies, default=None)),
        "processes": meter.read(),
    }


async def _first_record_of(watcher: Watcher, tenant_id: str) -> float:
    await watcher.tenant_recorded.setdefault(tenant_id, asyncio.Event()).wait()
    return watcher.first_recorded_at[tenant_id]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# -- the run --------------------------------------------------------------------------------


async def installation(
    infra: LocalInfra, sims: Sims, workdir: Path, args: argparse.Namespace, **how: Any
) -> dict[str, Any]:
    """The measured installation, under its own prefix and databases: its first sync, the
    steady state and the head-of-line check."""
    prefix, history = how["prefix"], how["history"]
    site = Installation(infra, sims, workdir / prefix, prefix, history, args)
    site.workdir.mkdir(parents=True)
    nc = await nats.connect(infra.nats_url)
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(infra.mongodb_uri)
    print(f"tenants: installation {prefix}, {history} history replica(s) ...", file=sys.stderr)
    try:
        await site.start([("config", 1), ("history", history), ("syncer", args.syncers)])
        watcher = Watcher(nc, site.names)
        await watcher.start()
        ids, first = await first_sync(site, nc, watcher, sims.small.tenants)
        print(f"tenants: first sync of all in {first['first_sync_all_s']} s", file=sys.stderr)
        result: dict[str, Any] = {"first_sync": first}
        with SimulatorControl(sims.small.control_url, sims.small.ca_file) as control:
            print(f"tenants: steady state for {args.steady_seconds} s ...", file=sys.stderr)
            result["steady"] = await steady(site, watcher, control, ids, mongo)
            print("tenants: head-of-line check ...", file=sys.stderr)
            result["head_of_line"] = await head_of_line(site, nc, watcher, control, ids)
    finally:
        site.stop()
        await nc.drain()
        await mongo.close()
    await forget(infra, prefix)
    return result


async def forget(infra: LocalInfra, prefix: str) -> None:
    """Drop an installation's databases and streams, so they weigh on nothing that follows."""
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(infra.mongodb_uri)
    nc = await nats.connect(infra.nats_url)
    try:
        for db in (f"{prefix}_config", f"{prefix}_history"):
            await mongo.drop_database(db)
        js = nc.jetstream()
        for name in await js.streams_info():
            if f"{prefix.upper()}_" in name.config.name:
                await js.delete_stream(name.config.name)
    finally:
        await mongo.close()
        await nc.drain()


def small_simulator(args: argparse.Namespace) -> SimulatorProcess:
    return SimulatorProcess(
        users=args.users,
        groups=args.groups,
        devices=args.devices,
        tenants=args.tenants,
        page_size=PAGE_SIZE,
        seed=22,
        extra_args=("--throttling", "off", "--certificates", "off"),
        ready_timeout=600,
    )


def big_simulator(args: argparse.Namespace) -> SimulatorProcess:
    # The big tenant has a simulator process of its own: the check is about entrasync's
    # head-of-line blocking, not the simulator's one event loop serving both.
    users = args.big_users
    return SimulatorProcess(
        users=users,
        groups=max(1, users // 5),
        devices=max(1, users // 2),
        page_size=PAGE_SIZE,
        seed=23,
        extra_args=("--throttling", "off"),
        ready_timeout=600,
    )


async def main(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="entrasync-bench-tenants-"))
    print(f"tenants: {args.tenants} tenants; logs in {workdir}", file=sys.stderr)
    with (
        LocalInfra(workdir=workdir / "infra", use_env=False) as infra,
        small_simulator(args) as small,
        big_simulator(args) as big,
    ):
        sims = Sims(small, big)
        warmed = await warm(small, small.tenants)
        await warm(big, big.tenants)
        print(f"tenants: simulators warmed ({warmed:.0f} s, untimed)", file=sys.stderr)
        drains = []
        if args.history_replicas > 1 and args.compare_history:
            for count in (1, args.history_replicas):
                drains.append(await history_drain(infra, sims, workdir, args, count))
        run = await installation(
            infra, sims, workdir, args, prefix="tn", history=args.history_replicas
        )
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "args": vars(args),
        "history_drains": drains,
        **run,
    }
    result["summary"] = conclude(args, result)
    result["targets"] = TARGETS
    return result


def conclude(args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    first, drains = result["first_sync"], result["history_drains"]
    stable, hol = result["steady"], result["head_of_line"]
    speedup = round(drains[0]["drain_s"] / drains[-1]["drain_s"], 2) if drains else None
    peaks = [
        usage["peak_rss_mb"]
        for phase in (hol, *drains)
        for name, usage in phase["processes"].items()
        if name.startswith("history-")
    ]
    return {
        "tenants": first["tenants"],
        "history_replicas": args.history_replicas,
        "first_sync_all_s": first["first_sync_all_s"],
        "history_replicas_speedup": speedup,
        "history_drain_s": {str(d["history_replicas"]): d["drain_s"] for d in drains},
        "runs_per_minute": stable["runs_per_minute"],
        "duplicate_runs": stable["duplicate_runs"],
        "missed_slots": stable["missed_slots"],
        "steady_change_to_event_p95_s": stable["change_to_event_p95_s"],
        "small_tenant_event_p95_during_big_full_s": hol["small_tenant_event_p95_s"],
        "scheduler_cpu_percent_per_1000_tenants": stable["scheduler_cpu_percent_per_1000_tenants"],
        "scheduler_rss_mb": stable["scheduler_rss_mb"],
        "history_peak_rss_mb": max(peaks),
        "nats_msgs_per_run": round(stable["per_run"]["in_msgs"] + stable["per_run"]["out_msgs"], 1),
        "mongodb_ops_per_run": round(
            sum(v for k, v in stable["per_run"].items() if k.startswith("mongodb_")), 1
        ),
        "cpu_percent_first_sync": {k: v["cpu_percent"] for k, v in first["processes"].items()},
        "cpu_percent_steady": {k: v["cpu_percent"] for k, v in stable["processes"].items()},
        **{
            f"cpu_percent_history_drain_{d['history_replicas']}": {
                k: v["cpu_percent"] for k, v in d["processes"].items()
            }
            for d in drains
        },
    }


def _s(value: float | None, unit: str = " s") -> str:
    return "–" if value is None else f"{value:g}{unit}"


def table(result: dict[str, Any]) -> str:
    args, k = result["args"], result["summary"]
    first, drains = result["first_sync"], result["history_drains"]
    stable, hol, runs = result["steady"], result["head_of_line"], result["steady"]["per_run"]
    mongo = ", ".join(f"{n[8:]} {v:g}" for n, v in runs.items() if n.startswith("mongodb_") and v)
    rows = [
        f"| {k['tenants']} tenants ({args['users']} users, {args['groups']} groups, "
        f"{args['devices']} devices each; {args['scheduler_replicas']} schedulers, "
        f"{args['syncers']} syncers, {k['history_replicas']} history) | measured | target |",
        "|---|---:|---:|",
        f"| first sync of every tenant, {k['history_replicas']} history replicas "
        f"| {first['first_sync_all_s']:g} s ({first['tenants_per_s']:g} tenants/s, "
        f"{first['objects_per_s']:.0f} objects/s) | |",
        *(
            f"| history alone on the first-sync backlog, {d['history_replicas']} replica(s) "
            f"| {d['drain_s']:g} s ({d['objects_per_s']:.0f} objects/s, {d['runs_per_s']:g} "
            "runs/s) | |"
            for d in drains
        ),
        *(
            [f"| history replicas speedup | **{k['history_replicas_speedup']:g}×** | ≥ 1.6× |"]
            if drains
            else []
        ),
        f"| steady state ({stable['seconds']:.0f} s, {args['interval']} s interval): runs per "
        f"minute | {_s(stable['runs_per_minute'], '')} (of {stable['expected_runs_per_minute']:g}) "
        "| |",
        f"| duplicate runs / missed slots ({stable['slots_checked']} tenant slots) "
        f"| **{stable['duplicate_runs']} / {stable['missed_slots']}** | 0 / 0 |",
        f"| change → event p50 / p95, {100 * args['change_share']:g}% of tenants changing per "
        f"minute ({stable['changes']} changes) | {_s(stable['change_to_event_p50_s'])} / "
        f"{_s(stable['change_to_event_p95_s'])} | |",
        f"| scheduler CPU per 1,000 tenants (all replicas) / RSS per replica "
        f"| {k['scheduler_cpu_percent_per_1000_tenants']:g}% / {k['scheduler_rss_mb']:.0f} MB | |",
        f"| NATS messages per run (in + out) / JetStream API calls per run "
        f"| {k['nats_msgs_per_run']:g} / {runs['jetstream_api_calls']:g} | |",
        f"| MongoDB operations per run | {k['mongodb_ops_per_run']:g} ({mongo}) | |",
        f"| big tenant ({hol['big_tenant_objects']} objects): first full scan end to end "
        f"| {hol['big_first_sync_end_to_end_s']:g} s | |",
        f"| small tenant change → event p95 during it ({hol['probes']} changes, each with "
        f"sync_now; the other small tenants "
        f"{'polling' if hol.get('small_tenants_polling') else 'quiet'}) "
        f"| **{_s(hol['small_tenant_event_p95_s'])}** | ≤ 2 s |",
        f"| history peak RSS per replica | {k['history_peak_rss_mb']:.0f} MB | ≤ 250 MB |",
    ]
    phases = {
        **{f"history ×{d['history_replicas']} alone": d for d in drains},
        "first sync": first,
        "steady": stable,
        "head-of-line": hol,
    }
    names = list(hol["processes"])
    cpu = [
        "",
        "| process | " + " | ".join(f"CPU % {phase}" for phase in phases) + " | peak RSS MB |",
        "|---|" + "---:|" * (len(phases) + 1),
        *(
            f"| {name} | "
            + " | ".join(
                _s(phase["processes"].get(name, {}).get("cpu_percent"), "")
                for phase in phases.values()
            )
            + f" | {hol['processes'][name]['peak_rss_mb']:.0f} |"
            for name in names
        ),
    ]
    return "\n".join(rows + cpu)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--tenants", type=int, default=1000, help="small simulated tenants")
    add("--users", type=int, default=200, help="users per small tenant")
    add("--groups", type=int, default=20, help="groups per small tenant")
    add("--devices", type=int, default=50, help="devices per small tenant")
    add("--interval", type=int, default=60, help="every tenant's sync interval, seconds")
    add("--steady-seconds", type=float, default=600, help="length of the steady state")
    add("--change-share", type=float, default=0.01, help="share of tenants changed per minute")
    add("--scheduler-replicas", type=int, default=2)
    add("--syncers", type=int, default=2)
    add("--history-replicas", type=int, default=2)
    add(
        "--no-compare-history",
        dest="compare_history",
        action="store_false",
        help="skip history's drains of the first-sync backlog (no speedup then)",
    )
    add(
        "--big-users",
        type=int,
        default=100_000,
        help="the big tenant's users (groups: a fifth, devices: half of that)",
    )
    add(
        "--probe-every",
        type=float,
        default=2.0,
        help="seconds between small-tenant changes while the big tenant's full scan runs",
    )
    add(
        "--hol-under-load",
        action="store_true",
        help="keep the small tenants polling during the head-of-line check (by default their "
        "interval is raised first, so the check measures the write path, not the syncers' "
        "command queue)",
    )
    add("--min-probes", type=int, default=5)
    add("--probe-timeout", type=float, default=600)
    add("--first-sync-timeout", type=float, default=3600)
    add("--results", type=Path, default=RESULTS, help="where the JSON files go")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so every process the benchmark started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = asyncio.run(main(args))
    args.results.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=str)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    (args.results / f"tenants-{stamp}.json").write_text(text)
    (args.results / "tenants-latest.json").write_text(text)
    print(table(result))


if __name__ == "__main__":
    cli()
