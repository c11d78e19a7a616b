"""A command the syncer fails on for an unforeseen reason (a bug) is tried a few times, then its
run is recorded as failed and the command parked with the reason: never retried forever, never
dropped without a word when JetStream's `max_deliver` runs out.

Real: nats-server, the Graph simulator for tokens, the syncer app in-process; its Graph reader
is replaced by one that raises, as a bug in reading pages would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from entrasync_shared.messages import CloudEndpoints, Credential
from entrasync_shared.subjects import Names
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.main import build_app
from entrasync_syncer.ports import DeltaPage, RequestStats, TokenSupplier
from entrasync_syncer.settings import Settings
from nats.aio.client import Client as NatsClient
from syncer_helpers import PipelineWatcher, send_command, simulator_credential, wait_until_empty

LIMIT = 2


class BuggyGraph:
    """A Graph connector whose pages fail with an error no one foresaw."""

    def __init__(self) -> None:
        self.reads = 0

    @asynccontextmanager
    async def open(self, cloud: CloudEndpoints) -> AsyncIterator[BuggyGraph]:
        yield self

    async def page(
        self, url: str, token: TokenSupplier, stats: RequestStats | None = None
    ) -> DeltaPage:
        self.reads += 1
        raise ZeroDivisionError("division by zero")


async def test_a_command_failing_on_a_bug_is_parked_after_the_limit_and_its_run_failed(
    settings: Settings,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tb"] = simulator_credential(sim, "tb")
    graph = BuggyGraph()
    app = build_app(settings.model_copy(update={"max_failed_deliveries": LIMIT}), graph=graph)
    await app.start()
    try:
        command = await send_command(nc, names, "tb", "full", object_types=("user",))
        run = await watcher.run(command.run_id)
        await wait_until_empty(nc, names)
    finally:
        await app.stop()

    assert run.finished is not None and run.finished.status == "Failed"
    assert run.result("user").error == "failed 2 times: ZeroDivisionError"
    assert graph.reads == LIMIT
    js = nc.jetstream()
    parked = await js.get_last_msg(names.dead_letter_stream, names.dead_letter("syncer"))
    assert parked.headers is not None
    assert parked.headers["Entrasync-Subject"] == names.sync_command("tb")
    reason = parked.headers["Entrasync-Reason"]
    assert reason == "failed 2 times: ZeroDivisionError: division by zero"
    info = await js.consumer_info(names.commands_stream, names.consumer("syncer", "commands"))
    assert info.num_ack_pending == 0
