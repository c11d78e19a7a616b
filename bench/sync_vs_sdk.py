"""entrasync against the raw fetch ceiling and against Microsoft's Graph SDK, in one run.

`make bench` (or `uv run python bench/sync_vs_sdk.py [--scale 0.1]`): starts its own NATS,
MongoDB and two Graph simulators (a 100k-user tenant and one a tenth of its size), runs
config, history and syncer as processes, and measures (see bench/README.md):

1. entrasync end to end: a full sync from the command to the history record, then a delta round
   with 1% of the objects changed (change -> public event latency); then near real time
   (bench/near_real_time.py): the receiver and the scheduler join, single changes and a burst
   reach their events through Graph's change notifications and coalesced delta rounds;
2. the raw fetch ceiling: httpx reading the same pages and discarding them; the sink ceiling: a
   minimal program reading them, bulk-inserting the objects into MongoDB and publishing one
   event per object to JetStream (no diffing, no history rows);
3. the official SDK baseline: msgraph-sdk iterating the same rounds, one MongoDB write per object;
4. Graph requests and pages, syncer and history peak RSS, syncer RSS at 10k vs 100k users.

Writes bench/results/<date>.json and bench/results/latest.json; prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import effective_figures
import nats
import near_real_time
from common import OBJECT_TYPES, Target, peak_rss_mb, rss_mb
from entrasync_devtools.infra import LocalInfra, die_with_parent, free_port
from entrasync_devtools.keys import new_encryption_key
from entrasync_devtools.stack import ServiceStack
from entrasync_shared.messages import (
    CloudEndpoints,
    Credential,
    CredentialProfile,
    CredentialProfileCreate,
    Health,
    StartSync,
    SyncFinished,
    SyncRecordedEvent,
    Tenant,
    TenantCreate,
    TenantRef,
    new_id,
)
from entrasync_shared.natsutil import ApiCallError, call, failed, ok
from entrasync_shared.subjects import READ_PERMISSIONS, Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nrt_figures import Scenario, scenario

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
PREFIX = "bench"
FULL_SIZE = {"users": 100_000, "groups": 20_000, "devices": 50_000}
PAGE_SIZE = 200
BENCH_PERMISSIONS = ("Directory.Read.All", READ_PERMISSIONS["roleEligibility"][0])
TARGETS = {
    "ratio_vs_ceiling": ">= 0.5",
    "ratio_vs_sdk": ">= 10",
    "end_to_end_ratio_vs_sink_ceiling": ">= 0.5",
    "syncer_peak_rss_mb": "<= 200",
    "rss_growth_10k_to_100k": "<= 0.15",
    "webhook_event_latency_p95_s": "<= 2",
    "webhook_requests_per_change": "<= 2",
    "webhook_burst_all_published_s": "<= 10",
    "webhook_burst_rounds": "<= 10",
    **effective_figures.TARGETS,
}


# -- processes ------------------------------------------------------------------------------


@dataclass
class Service:
    """One entrasync service process started from its console script, with its own log."""

    name: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / f"entrasync-{self.name}")],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )

    async def healthy(self, nc: NatsClient, names: Names) -> None:
        async def probe() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            try:
                health = await call(nc, names.api(self.name, "health"), None, Health, timeout=1)
            except ApiCallError:
                return False
            return health.ok

        await until(probe, f"{self.name} to be healthy", 60)

    @property
    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def until(probe: Callable[[], Awaitable[Any]], what: str, within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


def run_json(argv: list[str]) -> dict[str, Any]:
    """Run a benchmark subprocess; its last stdout line is its JSON result."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- entrasync ------------------------------------------------------------------------------


def cloud(sim: SimulatorProcess) -> dict[str, str]:
    return {
        "authority_host": sim.authority_host,
        "graph_url": sim.graph_url,
        "ca_file": sim.ca_file,
    }


async def register(nc: NatsClient, names: Names, sim: SimulatorProcess, cloud_name: str) -> Tenant:
    app = sim.tenants[0]
    profile: CredentialProfile = await call(
        nc,
        names.api("config", "profile.create"),
        CredentialProfileCreate(
            name=f"bench {cloud_name}",
            client_id=app["client_id"],
            client_secret=app["client_secret"],
        ),
        CredentialProfile,
    )
    tenant: Tenant = await call(
        nc,
        names.api("config", "tenant.create"),
        TenantCreate(
            tenant=app["domain"],
            cloud=cloud_name,
            profile_id=profile.id,
            object_types=OBJECT_TYPES,
            interval_seconds=7 * 24 * 3600,
        ),
        Tenant,
        timeout=30,
    )
    return tenant


@dataclass
class RunTiming:
    sync_s: float
    end_to_end_s: float
    finished: SyncFinished
    recorded_status: str


def start_sync(tenant_id: str, mode: str) -> StartSync:
    """A manual run of every object type the bench tenant syncs."""
    return StartSync(
        run_id=new_id(),
        tenant_id=tenant_id,
        mode=mode,  # type: ignore[arg-type]
        reason="manual",
        # The scheduler fills it from the tenant's settings; the bench's own commands must too.
        object_types=OBJECT_TYPES,
    )


async def timed_run(
    nc: NatsClient, names: Names, tenant_id: str, mode: str, *, recorded: bool = True
) -> RunTiming:
    """Queue one command; time it to the syncer's `finished` and (unless `recorded` is False:
    no history runs) to history's record."""
    command = start_sync(tenant_id, mode)
    finished: asyncio.Future[tuple[float, SyncFinished]] = asyncio.Future()
    record: asyncio.Future[tuple[float, str]] = asyncio.Future()

    async def on_finished(msg: Msg) -> None:
        event = SyncFinished.model_validate_json(msg.data)
        if event.run_id == command.run_id and not finished.done():
            finished.set_result((time.perf_counter(), event))

    async def on_recorded(msg: Msg) -> None:
        data = SyncRecordedEvent.model_validate_json(msg.data).data
        if data.run_id == command.run_id and not record.done():
            record.set_result((time.perf_counter(), data.status))

    subs = [
        await nc.subscribe(names.run_event(tenant_id, "finished"), cb=on_finished),
        await nc.subscribe(names.sync_recorded(tenant_id), cb=on_recorded),
    ]
    began = time.perf_counter()
    await nc.jetstream().publish(
        names.sync_command(tenant_id),
        command.model_dump_json().encode(),
        headers={"Nats-Msg-Id": command.id},
    )
    try:
        finished_at, event = await asyncio.wait_for(finished, 1800)
        if recorded:
            recorded_at, status = await asyncio.wait_for(record, 3600)
        else:
            recorded_at, status = finished_at, event.status
    finally:
        for sub in subs:
            await sub.unsubscribe()
    return RunTiming(finished_at - began, recorded_at - began, event, status)


def one_percent_changes(control: SimulatorControl, tenant_id: str) -> list[dict[str, Any]]:
    """Updates to 1% of the users and devices, a new member for 1% of the groups."""
    rng = random.Random(7)
    truth = {t: [o["id"] for o in control.truth(tenant_id, t)] for t in OBJECT_TYPES}
    operations: list[dict[str, Any]] = []
    for user in rng.sample(truth["user"], max(1, len(truth["user"]) // 100)):
        operations.append(
            {"op": "update", "type": "user", "id": user, "attrs": {"jobTitle": "Benchmarker"}}
        )
    for device in rng.sample(truth["device"], max(1, len(truth["device"]) // 100)):
        attrs = {"displayName": f"bench-{device[:8]}"}
        operations.append({"op": "update", "type": "device", "id": device, "attrs": attrs})
    for group in rng.sample(truth["group"], max(1, len(truth["group"]) // 100)):
        member = rng.choice(truth["user"])
        operations.append({"op": "add_member", "group_id": group, "member_id": member})
    return operations


async def delta_latency(
    nc: NatsClient, names: Names, control: SimulatorControl, tenant: Tenant, sim_tenant: str
) -> dict[str, Any]:
    """Change 1% of the tenant, run a delta round, time each public event from the change."""
    operations = one_percent_changes(control, sim_tenant)
    arrivals: list[float] = []

    async def on_event(msg: Msg) -> None:
        arrivals.append(time.perf_counter())

    sub = await nc.subscribe(names.directory_events, cb=on_event)
    for start in range(0, len(operations), 1000):
        control.mutate(sim_tenant, operations[start : start + 1000])
    changed_at = time.perf_counter()
    timing = await timed_run(nc, names, tenant.id, "delta")
    # History publishes a run's change events before its record: all of them are in by now.
    await sub.unsubscribe()
    latencies = sorted(at - changed_at for at in arrivals)
    return {
        "changed_objects": len(operations),
        "events": len(arrivals),
        "sync_s": round(timing.sync_s, 3),
        "end_to_end_s": round(timing.end_to_end_s, 3),
        "status": timing.recorded_status,
        "event_latency_p50_s": round(statistics.median(latencies), 3),
        "event_latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
    }


async def sampled_peak_rss(pid: int, work: Awaitable[Any]) -> tuple[Any, float]:
    """`work`'s result and the process's highest RSS sampled (every 50 ms) while it ran:
    VmHWM only ever grows, so a later round's own peak is sampled."""
    peak = rss_mb(pid)
    task = asyncio.ensure_future(work)
    while not task.done():
        await asyncio.wait([task], timeout=0.05)
        peak = max(peak, rss_mb(pid))
    return task.result(), round(peak, 1)


def plain_changes(control: SimulatorControl, tenant_id: str) -> list[dict[str, Any]]:
    """Updates to 1% of the users and nothing else: a round without membership changes."""
    rng = random.Random(11)
    users = [o["id"] for o in control.truth(tenant_id, "user")]
    attrs = {"jobTitle": "Plain round"}
    return [
        {"op": "update", "type": "user", "id": user, "attrs": attrs}
        for user in rng.sample(users, max(1, len(users) // 100))
    ]


async def membership_round(
    nc: NatsClient, names: Names, control: SimulatorControl, tenant: Tenant, sim_tenant: str
) -> dict[str, Any]:
    """A delta round after 1% of the groups' memberships changed (half removed, half added)."""
    groups = control.truth(sim_tenant, "group")
    users = [o["id"] for o in control.truth(sim_tenant, "user")]
    operations = effective_figures.membership_changes(groups, users, random.Random(17))
    return await changed_round(nc, names, control, tenant, sim_tenant, operations)


async def plain_round(
    nc: NatsClient, names: Names, control: SimulatorControl, tenant: Tenant, sim_tenant: str
) -> dict[str, Any]:
    operations = plain_changes(control, sim_tenant)
    return await changed_round(nc, names, control, tenant, sim_tenant, operations)


async def changed_round(
    nc: NatsClient,
    names: Names,
    control: SimulatorControl,
    tenant: Tenant,
    sim_tenant: str,
    operations: list[dict[str, Any]],
) -> dict[str, Any]:
    """Apply `operations` to the simulator, then a delta round to history's record."""
    for start in range(0, len(operations), 1000):
        control.mutate(sim_tenant, operations[start : start + 1000])
    timing = await timed_run(nc, names, tenant.id, "delta")
    return {"operations": len(operations), "end_to_end_s": round(timing.end_to_end_s, 3)}


async def effective_latency(
    nc: NatsClient, names: Names, control: SimulatorControl, tenant: Tenant, sim_tenant: str
) -> dict[str, Any]:
    """A chain of nested groups (synced by an untimed round), then rounds that each add one
    user to its innermost group: the round's start (and the change) -> that user's
    `effective_changed` event."""
    chain = control.mutate(sim_tenant, effective_figures.chain_operations())
    innermost = chain[effective_figures.CHAIN_DEPTH - 1]
    await timed_run(nc, names, tenant.id, "delta")
    rounds = effective_figures.LATENCY_ROUNDS
    users = random.Random(13).sample([o["id"] for o in control.truth(sim_tenant, "user")], rounds)
    waiting: dict[str, asyncio.Future[float]] = {}

    async def on_event(msg: Msg) -> None:
        principal = json.loads(msg.data)["data"]["principal_id"]
        arrived = waiting.get(principal)
        if arrived is not None and not arrived.done():
            arrived.set_result(time.perf_counter())

    sub = await nc.subscribe(names.effective_changed(tenant.id, "user"), cb=on_event)
    from_round: list[float] = []
    from_change: list[float] = []
    try:
        for user in users:
            waiting[user] = asyncio.get_running_loop().create_future()
            changed_at = time.perf_counter()
            control.mutate(
                sim_tenant, [{"op": "add_member", "group_id": innermost, "member_id": user}]
            )
            started_at = time.perf_counter()
            await timed_run(nc, names, tenant.id, "delta")
            try:
                # History publishes a run's events before its record; a little slack anyway.
                arrived = await asyncio.wait_for(waiting[user], 5)
            except TimeoutError:
                continue
            from_round.append(arrived - started_at)
            from_change.append(arrived - changed_at)
    finally:
        await sub.unsubscribe()
    return {
        "chain_depth": effective_figures.CHAIN_DEPTH,
        **effective_figures.latency_figures(from_round, from_change, rounds),
    }


def run_summary(timing: RunTiming) -> dict[str, Any]:
    results = timing.finished.results
    pages = sum(r.pages for r in results)
    objects = sum(r.total for r in results)
    return {
        "objects": objects,
        "status": timing.recorded_status,
        "sync_s": round(timing.sync_s, 3),
        "end_to_end_s": round(timing.end_to_end_s, 3),
        "sync_objects_per_s": round(objects / timing.sync_s, 1),
        "end_to_end_objects_per_s": round(objects / timing.end_to_end_s, 1),
        "pages": pages,
        "requests": sum(r.requests for r in results),
    }


# -- the run --------------------------------------------------------------------------------


def sizes(scale: float) -> dict[str, int]:
    return {kind: max(1, int(count * scale)) for kind, count in FULL_SIZE.items()}


@contextlib.contextmanager
def simulator(size: dict[str, int], seed: int) -> Iterator[SimulatorProcess]:
    """A seeded simulator whose apps may read every type the bench syncs: Directory.Read.All
    reads all but PIM's eligibility schedules (rbacapplication-list-roleeligibilityschedules.md
    lists RoleEligibilitySchedule.Read.Directory, not Directory.Read.All)."""
    with SimulatorProcess(
        **size, page_size=PAGE_SIZE, seed=seed, extra_args=("--throttling", "off")
    ) as sim:
        with SimulatorControl(sim.control_url, sim.ca_file) as control:
            for app in sim.tenants:
                control.set_permissions(app["tenant_id"], app["client_id"], BENCH_PERMISSIONS)
        yield sim


def target_of(sim: SimulatorProcess) -> Target:
    app = sim.tenants[0]
    return Target(
        sim.graph_url,
        sim.authority_host,
        sim.ca_file,
        app["domain"],
        app["client_id"],
        app["client_secret"],
    )


def service_env(infra: LocalInfra, prefix: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
    env.update(
        ENTRASYNC_NATS_URL=infra.nats_url,
        ENTRASYNC_MONGODB_URI=infra.mongodb_uri,
        ENTRASYNC_PREFIX=prefix,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def credential_of(sim: SimulatorProcess, tenant_id: str) -> Credential:
    app = sim.tenants[0]
    return Credential(
        tenant_id=tenant_id,
        tenant=app["domain"],
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        cloud=CloudEndpoints(
            name="bench",
            authority_host=sim.authority_host,
            graph_url=sim.graph_url,
            ca_pem=Path(sim.ca_file).read_text(),
        ),
        object_types=OBJECT_TYPES,
    )


async def measure_syncer_alone(
    infra: LocalInfra, big: SimulatorProcess, small: SimulatorProcess, workdir: Path
) -> dict[str, Any]:
    """The syncer on its own (nothing consumes what it publishes; this process plays config):
    a fresh process per tenant, so each peak RSS belongs to one tenant size."""
    names = Names(f"{PREFIX}solo")
    env = service_env(infra, names.prefix, {})
    known = {"small": credential_of(small, "small"), "big": credential_of(big, "big")}
    nc = await nats.connect(infra.nats_url)

    async def answer(msg: Msg) -> None:
        found = known.get(TenantRef.model_validate_json(msg.data).tenant_id)
        reply = ok(found) if found else failed("not_found", "unknown tenant")
        await msg.respond(reply.model_dump_json().encode())

    await nc.subscribe(names.api("config", "credential.get"), cb=answer)
    runs: dict[str, tuple[RunTiming, float]] = {}
    try:
        for tenant_id, sim in (("small", small), ("big", big)):
            syncer = Service("syncer", env, workdir / f"syncer-alone-{tenant_id}.log")
            try:
                await syncer.healthy(nc, names)
                with SimulatorControl(sim.control_url, sim.ca_file) as control:
                    sim_tenant = sim.tenants[0]["tenant_id"]
                    # A rule that never fires (`after` is out of reach) but counts what it sees.
                    counter = control.inject_fault(
                        "*/delta", status=503, after=10**9, tenant_id=sim_tenant
                    )
                    timing = await timed_run(nc, names, tenant_id, "full", recorded=False)
                    rules = {f["id"]: f for f in control.faults()}
                    control.remove_fault(counter)
                runs[tenant_id] = (timing, syncer.peak_rss_mb)
                if tenant_id == "big":
                    seen = rules[counter]["seen"]
            finally:
                syncer.stop()
    finally:
        await nc.drain()
    big_run, big_rss = runs["big"]
    small_run, small_rss = runs["small"]
    return {
        "full_100k": {**run_summary(big_run), "graph_requests_seen": seen},
        "full_10k": run_summary(small_run),
        "syncer_peak_rss_mb_10k": round(small_rss, 1),
        "syncer_peak_rss_mb_100k": round(big_rss, 1),
    }


async def measure_end_to_end(
    infra: LocalInfra, big: SimulatorProcess, workdir: Path, plan: Scenario
) -> dict[str, Any]:
    """config, syncer and history as processes: a full sync to the history record, then a
    delta round with 1% of the objects changed; then the receiver and the scheduler join for
    the near-real-time scenario."""
    names = Names(PREFIX)
    receiver_port = free_port()
    extra = {
        # config refuses near real time without it; the scheduler hands it to the syncer.
        "ENTRASYNC_NOTIFICATION_URL": f"http://127.0.0.1:{receiver_port}",
        "ENTRASYNC_CLOUDS": json.dumps({"bench": cloud(big)}),
        "ENTRASYNC_CONFIG_ENCRYPTION_KEY": new_encryption_key(),
        "ENTRASYNC_CONFIG_DB": "bench_config",
        "ENTRASYNC_HISTORY_DB": "bench_history",
        "ENTRASYNC_HISTORY_FINISH_MAX_WAITS": "3600",
    }
    env = service_env(infra, names.prefix, extra)
    stack = ServiceStack(
        infra.nats_url, infra.mongodb_uri, workdir, extra, prefix=PREFIX, services=("config",)
    )
    started: list[Service] = []
    async with stack:
        nc = await nats.connect(infra.nats_url)
        try:
            for name in ("history", "syncer"):
                started.append(Service(name, env, workdir / f"{name}.log"))
                await started[-1].healthy(nc, names)
            history, syncer = started
            tenant = await register(nc, names, big, "bench")
            full = await timed_run(nc, names, tenant.id, "full")
            # The first full sync's finish built the effective closure: its peak is in here.
            first_sync_rss = history.peak_rss_mb
            print("benchmark: effective membership ...", file=sys.stderr)
            with SimulatorControl(big.control_url, big.ca_file) as control:
                sim_tenant = big.tenants[0]["tenant_id"]
                pid = history.process.pid
                plain, plain_rss = await sampled_peak_rss(
                    pid, plain_round(nc, names, control, tenant, sim_tenant)
                )
                memberships, memberships_rss = await sampled_peak_rss(
                    pid, membership_round(nc, names, control, tenant, sim_tenant)
                )
                delta = await delta_latency(nc, names, control, tenant, sim_tenant)
                latency = await effective_latency(nc, names, control, tenant, sim_tenant)
                objects = {t: len(control.truth(sim_tenant, t)) for t in OBJECT_TYPES}
                print("benchmark: near real time ...", file=sys.stderr)
                receiver_env = {
                    **env,
                    "ENTRASYNC_RECEIVER_HOST": "127.0.0.1",
                    "ENTRASYNC_RECEIVER_PORT": str(receiver_port),
                }
                for name, environment in (("receiver", receiver_env), ("scheduler", env)):
                    started.append(Service(name, environment, workdir / f"{name}.log"))
                    await started[-1].healthy(nc, names)
                nrt = await near_real_time.measure(nc, names, control, tenant.id, sim_tenant, plan)
            rss = {"syncer": syncer.peak_rss_mb, "history": history.peak_rss_mb}
        finally:
            for service in started:
                service.stop()
            await nc.drain()
    return {
        "full_100k": run_summary(full),
        "delta_1pct": delta,
        "near_real_time": nrt,
        "effective": {
            # history's own figure (its log line), not an out-of-process re-run.
            "full": effective_figures.computed_in_history(
                (workdir / "history.log").read_text().splitlines()
            ),
            "history_peak_rss_mb_first_sync": round(first_sync_rss, 1),
            "latency": latency,
            "rss_rounds": {
                "plain": plain,
                "plain_peak_rss_mb": plain_rss,
                "memberships": memberships,
                "memberships_peak_rss_mb": memberships_rss,
            },
        },
        "objects": objects,
        "syncer_peak_rss_mb": round(rss["syncer"], 1),
        "history_peak_rss_mb": round(rss["history"], 1),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else 0.0


def conclude(
    alone: dict[str, Any], e2e: dict[str, Any], ceiling: dict[str, Any], sdk: dict[str, Any]
) -> dict[str, Any]:
    solo, full = alone["full_100k"], e2e["full_100k"]
    objects = sum(e2e["objects"].values())
    ceiling_rate = objects / ceiling["wall_s"]
    sink_rate = objects / ceiling["sink"]["wall_s"]
    sdk_rate = sdk["entries"] / sdk["wall_s"]
    sdk_wall = sdk["wall_s"] if sdk["complete"] else objects / sdk_rate
    return {
        "ratio_vs_ceiling": ratio(solo["sync_objects_per_s"], ceiling_rate),
        "ratio_vs_sdk": ratio(full["end_to_end_objects_per_s"], sdk_rate),
        "end_to_end_ratio_vs_ceiling": ratio(full["end_to_end_objects_per_s"], ceiling_rate),
        "sink_ceiling_objects_per_s": round(sink_rate, 1),
        "end_to_end_ratio_vs_sink_ceiling": ratio(full["end_to_end_objects_per_s"], sink_rate),
        "syncer_peak_rss_mb": max(alone["syncer_peak_rss_mb_100k"], e2e["syncer_peak_rss_mb"]),
        "history_peak_rss_mb": e2e["history_peak_rss_mb"],
        "rss_growth_10k_to_100k": round(
            alone["syncer_peak_rss_mb_100k"] / alone["syncer_peak_rss_mb_10k"] - 1, 3
        ),
        "requests_per_full_sync": solo["requests"],
        "pages_per_full_sync": solo["pages"],
        "requests_minus_pages": solo["requests"] - solo["pages"],
        "graph_requests_seen": solo["graph_requests_seen"],
        "delta_event_latency_p50_s": e2e["delta_1pct"]["event_latency_p50_s"],
        "delta_event_latency_p95_s": e2e["delta_1pct"]["event_latency_p95_s"],
        **_webhook(e2e["near_real_time"]),
        **effective_figures.summary(e2e["effective"]),
        "ceiling_objects_per_s": round(ceiling_rate, 1),
        **_asyncio_ceiling(solo, objects, ceiling),
        "sdk_objects_per_s": round(sdk_rate, 1),
        "sdk_wall_s": round(sdk_wall, 1),
        "sdk_wall_extrapolated": not sdk["complete"],
    }


def _webhook(nrt: dict[str, Any]) -> dict[str, Any]:
    single, burst = nrt["single"], nrt["burst"]
    return {
        "webhook_event_latency_p50_s": single["p50_s"],
        "webhook_event_latency_p95_s": single["p95_s"],
        "webhook_requests_per_change": single["requests_per_change"],
        "webhook_burst_all_published_s": burst["all_published_s"],
        "webhook_burst_rounds": burst["rounds"],
    }


def _asyncio_ceiling(solo: dict[str, Any], objects: int, ceiling: dict[str, Any]) -> dict[str, Any]:
    """The raw fetch over the syncer's own transport, beside the default-httpx ceiling."""
    own = ceiling.get("asyncio_transport")
    if not own:
        return {}
    rate = objects / own["wall_s"]
    return {
        "ceiling_asyncio_transport_objects_per_s": round(rate, 1),
        "ratio_vs_asyncio_transport_ceiling": ratio(solo["sync_objects_per_s"], rate),
    }


def _s(value: float | None) -> str:
    return "never (events missing)" if value is None else f"{value:.2f} s"


UNSETTLED = " Runs were still going 120 s after the last event: rounds and requests are partial."


def nrt_notes(nrt: dict[str, Any]) -> list[str]:
    single, burst = nrt["single"], nrt["burst"]
    missing = single["missing"] + burst["missing"]
    return [
        f"- Near real time (poll every {nrt['poll_seconds']} s; change notifications to the "
        f"receiver, no delivery delay): {single['changes']} single user changes over "
        f"{single['spread_s']:.0f} s → public event p50 {_s(single['p50_s'])}, "
        f"p95 **{_s(single['p95_s'])}** (target ≤ 2 s), max {_s(single['max_s'])}; "
        f"**{single['requests_per_change']:.2f}** Graph requests per change (target ≤ 2; "
        f"{single['graph_requests']} requests, {single['delta_requests']} of them delta) in "
        f"{single['rounds']} notification rounds.",
        f"- Burst: {burst['changes']} changes in {burst['burst_s']:.1f} s → every event "
        f"published **{_s(burst['all_published_s'])}** after the burst's end (target ≤ 10 s) "
        f"in **{burst['rounds']}** notification rounds (target ≤ 10); event p50 "
        f"{_s(burst['p50_s'])}, p95 {_s(burst['p95_s'])}; "
        f"{burst['requests_per_change']:.2f} Graph requests per change."
        + (f" {missing} changes never reached an event." if missing else "")
        + ("" if single["settled"] and burst["settled"] else UNSETTLED),
    ]


def table(result: dict[str, Any]) -> str:
    alone, e2e = result["syncer_alone"], result["end_to_end"]
    c, s, k = result["ceiling"], result["sdk"], result["summary"]
    solo, full, delta = alone["full_100k"], e2e["full_100k"], e2e["delta_1pct"]
    sink = c["sink"]
    sdk_wall = f"{k['sdk_wall_s']:.0f}" + (" (extrapolated)" if k["sdk_wall_extrapolated"] else "")
    objects = e2e["objects"]
    rows = [
        "| full sync, 100k-user tenant | entrasync | raw httpx ceiling | sink ceiling "
        "| msgraph-sdk + MongoDB | entrasync / ceiling | entrasync / sink ceiling "
        "| entrasync / SDK |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| syncer alone: objects/s (wall s) | {solo['sync_objects_per_s']:.0f} "
        f"({solo['sync_s']:.1f}) | {k['ceiling_objects_per_s']:.0f} ({c['wall_s']:.1f}) | | "
        f"| **{k['ratio_vs_ceiling']:.2f}** | | |",
        f"| end to end into MongoDB: objects/s (wall s) | {full['end_to_end_objects_per_s']:.0f} "
        f"({full['end_to_end_s']:.1f}) | | {k['sink_ceiling_objects_per_s']:.0f} "
        f"({sink['wall_s']:.1f}) | {k['sdk_objects_per_s']:.0f} ({sdk_wall}) "
        f"| {k['end_to_end_ratio_vs_ceiling']:.2f} "
        f"| **{k['end_to_end_ratio_vs_sink_ceiling']:.2f}** | **{k['ratio_vs_sdk']:.1f}×** |",
        f"| peak RSS, MB | syncer {k['syncer_peak_rss_mb']:.0f}, history "
        f"{k['history_peak_rss_mb']:.0f} | {c['peak_rss_mb']:.0f} | {sink['peak_rss_mb']:.0f} "
        f"| {s['peak_rss_mb']:.0f} | {ratio(k['syncer_peak_rss_mb'], c['peak_rss_mb']):.2f} | "
        f"| {ratio(k['syncer_peak_rss_mb'], s['peak_rss_mb']):.2f} |",
        f"| Graph requests / pages | {solo['requests']} / {solo['pages']} "
        f"| {c['pages']} / {c['pages']} | {sink['pages']} / {sink['pages']} "
        f"| {s['pages']}+ / {s['pages']}+ | | | |",
    ]
    notes = [
        "",
        f"- Tenant: {', '.join(f'{n} {t}' for t, n in objects.items())}; "
        f"page size {PAGE_SIZE}; simulator throttling off; "
        f"{result['machine']['cpus']} CPUs shared by every process.",
        f"- Sink ceiling: {sink['entries']} objects bulk-inserted into MongoDB and "
        f"{sink['events_stored']} events stored by JetStream (async PubAcks) in "
        f"{sink['wall_s']:.1f} s; no diffing, no history rows.",
        f"- Delta round, 1% changed ({delta['changed_objects']} objects, {delta['events']} "
        f"public events): change → public event p50 {delta['event_latency_p50_s']:.2f} s, "
        f"p95 {delta['event_latency_p95_s']:.2f} s (run {delta['end_to_end_s']:.1f} s end to "
        "end).",
        *nrt_notes(e2e["near_real_time"]),
        effective_figures.note(e2e["effective"]),
        f"- Syncer peak RSS: {alone['syncer_peak_rss_mb_10k']:.0f} MB at 10k users, "
        f"{alone['syncer_peak_rss_mb_100k']:.0f} MB at 100k "
        f"(+{100 * k['rss_growth_10k_to_100k']:.1f}%).",
        *(
            [
                f"- The same raw fetch over the syncer's own transport (asyncio streams): "
                f"{k['ceiling_asyncio_transport_objects_per_s']:.0f} objects/s; entrasync / "
                f"that = {k['ratio_vs_asyncio_transport_ceiling']:.2f}."
            ]
            if "ceiling_asyncio_transport_objects_per_s" in k
            else []
        ),
        f"- Requests = pages + {k['requests_minus_pages']}; the simulator saw "
        f"{k['graph_requests_seen']} delta requests.",
        f"- SDK baseline: {s['entries']} objects in {s['wall_s']:.0f} s"
        + ("" if s["complete"] else " (time-boxed sample; its wall time is extrapolated)")
        + ".",
    ]
    return "\n".join(rows + notes)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="entrasync-bench-"))
    big_size = sizes(args.scale)
    small_size = {kind: max(1, n // 10) for kind, n in big_size.items()}
    print(f"benchmark: {big_size} (and a tenth of it); logs in {workdir}", file=sys.stderr)
    with (
        LocalInfra(workdir=workdir / "infra", use_env=False) as infra,
        simulator(big_size, seed=1) as big,
        simulator(small_size, seed=2) as small,
    ):
        target = target_of(big).dumps()
        # Untimed: the simulator renders each object the first time a round of this `$select`
        # reads it; every measured walk below, the ceiling's included, then finds it rendered.
        print("benchmark: warming the simulator (untimed) ...", file=sys.stderr)
        run_json([sys.executable, str(BENCH / "ceiling.py"), target])
        print("benchmark: raw fetch ceiling ...", file=sys.stderr)
        ceiling = run_json([sys.executable, str(BENCH / "ceiling.py"), target])
        ceiling["asyncio_transport"] = run_json(
            [sys.executable, str(BENCH / "ceiling.py"), target, "asyncio"]
        )
        print("benchmark: sink ceiling ...", file=sys.stderr)
        ceiling["sink"] = run_json(
            [
                sys.executable,
                str(BENCH / "sink_ceiling.py"),
                target,
                infra.mongodb_uri,
                "bench_sink",
                infra.nats_url,
                f"{PREFIX}sink",
            ]
        )
        print("benchmark: syncer alone ...", file=sys.stderr)
        alone = await measure_syncer_alone(infra, big, small, workdir)
        print("benchmark: end to end ...", file=sys.stderr)
        e2e = await measure_end_to_end(infra, big, workdir, scenario(args.scale))
        print("benchmark: msgraph-sdk baseline ...", file=sys.stderr)
        sdk = run_json(
            [
                sys.executable,
                str(BENCH / "sdk_baseline.py"),
                target,
                infra.mongodb_uri,
                "bench_sdk",
                str(args.sdk_budget),
            ]
        )
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": args.scale,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "syncer_alone": alone,
        "end_to_end": e2e,
        "ceiling": ceiling,
        "sdk": sdk,
    }
    result["summary"] = conclude(alone, e2e, ceiling, sdk)
    result["targets"] = TARGETS
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k/20k/50k objects")
    parser.add_argument(
        "--sdk-budget",
        type=float,
        default=180.0,
        help="seconds the (slow) SDK baseline may run; 0 = to the end",
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so every process the benchmark started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = asyncio.run(main(args))
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(result, indent=2)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    (RESULTS / f"{stamp}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(table(result))


if __name__ == "__main__":
    cli()
