import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from entrasync_devtools.infra import LocalInfra
from entrasync_shared.messages import CloudEndpoints, Credential
from entrasync_shared.subjects import Names
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.adapters.graph import HttpxGraphConnector
from entrasync_syncer.domain import RetryPolicy
from entrasync_syncer.main import build_app
from entrasync_syncer.ports import DeltaPage, GraphReader, RequestStats, TokenSupplier
from entrasync_syncer.settings import Settings
from nats.aio.client import Client as NatsClient
from syncer_helpers import PipelineWatcher, send_command, simulator_credential, wait_until_empty

SYNCER = Path(sys.executable).parent / "entrasync-syncer"


async def read_until(stream: asyncio.StreamReader, marker: bytes, lines: list[bytes]) -> None:
    while True:
        line = await stream.readline()
        assert line, b"".join(lines).decode(errors="replace")
        lines.append(line)
        if marker in line:
            return


async def test_the_entrasync_syncer_process_runs_a_sync_and_stops_cleanly(
    infra: LocalInfra,
    prefix: str,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tp"] = simulator_credential(sim, "tp")
    env = {**os.environ, "ENTRASYNC_NATS_URL": infra.nats_url, "ENTRASYNC_PREFIX": prefix}
    process = await asyncio.create_subprocess_exec(
        str(SYNCER), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert process.stdout is not None
    output: list[bytes] = []
    try:
        await asyncio.wait_for(read_until(process.stdout, b"syncer ready", output), 20)
        draining = asyncio.create_task(read_until(process.stdout, b"\0never", output))
        command = await send_command(nc, names, "tp", "full")
        run = await watcher.run(command.run_id)
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 20)
    await asyncio.gather(draining, return_exceptions=True)

    assert run.finished is not None and run.finished.status == "Succeeded"
    assert code == 0
    logs = b"".join(output).decode()
    assert f"consumer {names.consumer('syncer', 'commands')}" in logs
    assert command.run_id in logs
    assert credentials["tp"].client_secret.get_secret_value() not in logs
    assert "Bearer" not in logs and "access_token" not in logs


class SlowGraph:
    """The real Graph connector, but every page takes `delay` seconds longer; counts runs."""

    def __init__(self, delay: float) -> None:
        self.inner = HttpxGraphConnector(RetryPolicy(), 10)
        self.delay = delay
        self.opened = 0

    @asynccontextmanager
    async def open(self, cloud: CloudEndpoints) -> AsyncIterator[GraphReader]:
        self.opened += 1
        async with self.inner.open(cloud) as reader:
            yield SlowReader(reader, self.delay)


class SlowReader:
    def __init__(self, inner: GraphReader, delay: float) -> None:
        self.inner, self.delay = inner, delay

    async def page(
        self, url: str, token: TokenSupplier, stats: RequestStats | None = None
    ) -> DeltaPage:
        await asyncio.sleep(self.delay)  # stands in for a slow Graph
        return await self.inner.page(url, token, stats)


async def test_replicas_share_commands_and_keep_long_runs_alive(
    settings: Settings,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    short_ack = settings.model_copy(update={"ack_wait": 1.0, "keepalive": 0.3})
    graphs = [SlowGraph(0.4), SlowGraph(0.4)]
    apps = [build_app(short_ack, graph=graph) for graph in graphs]
    for app in apps:
        await app.start()
    try:
        tenants = [f"tr{n}" for n in range(4)]
        for tenant in tenants:
            credentials[tenant] = simulator_credential(sim, tenant)
        commands = [
            await send_command(nc, names, t, "full", object_types=("user",)) for t in tenants
        ]
        runs = [await watcher.run(c.run_id, within=30) for c in commands]
    finally:
        for app in apps:
            await app.stop()

    # Each run reads 3 pages 0.4 s apart, outliving the 1 s ack wait: only the keepalive
    # keeps JetStream from handing the command to the other replica.
    assert [len(r.started) for r in runs] == [1, 1, 1, 1]
    assert all(r.finished and r.finished.status == "Succeeded" for r in runs)
    assert all(g.opened > 0 for g in graphs) and sum(g.opened for g in graphs) == 4
    info = await nc.jetstream().consumer_info(
        names.commands_stream, names.consumer("syncer", "commands")
    )
    assert info.num_redelivered == 0 and info.num_ack_pending == 0


async def test_a_tenant_is_never_run_twice_at_once_nor_a_finished_run_repeated(
    settings: Settings,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    quick = settings.model_copy(update={"ack_wait": 2.0, "keepalive": 0.3, "lease_seconds": 5})
    graphs = [SlowGraph(0.3), SlowGraph(0.3)]
    apps = [build_app(quick, graph=graph) for graph in graphs]
    credentials["tl"] = simulator_credential(sim, "tl")
    for app in apps:
        await app.start()
    try:
        commands = [
            await send_command(nc, names, "tl", "full", object_types=("user",)) for _ in range(2)
        ]
        runs = sorted(
            [await watcher.run(c.run_id, within=30) for c in commands],
            key=lambda r: r.started[0].at,
        )
        assert runs[0].finished is not None
        assert runs[0].finished.finished_at <= runs[1].started[0].at  # one after the other

        # The last run's command delivered once more (as after a crash before its ack).
        last = next(c for c in commands if c.run_id == runs[1].started[0].run_id)
        await nc.jetstream().publish(
            names.sync_command("tl"),
            last.model_dump_json().encode(),
            headers={"Nats-Msg-Id": f"{last.id}:again"},
        )
        await wait_until_empty(nc, names)
    finally:
        for app in apps:
            await app.stop()

    assert sum(g.opened for g in graphs) == 2
