"""A tenant deleted while its first full run is in progress stays deleted (issue 18, defect 3).

Through the real services: the simulator slows every delta page of the tenant down, so the run
is still reading Graph when the tenant is deleted through config's API. From the moment the
deletion is acknowledged, no inventory document, public event or history row of that tenant
appears or changes: the syncer stops before its next page, history drops what was still on its
way, the run's row says Cancelled (history kept) or everything is erased and stays erased
(history purged; the straggler sweep runs every second here). The check lasts until the syncer
has certainly ended the run, history has nothing left to read, and several sweeps have run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import eventually, register
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack, simulated_stack_settings
from entrasync_shared.messages import (
    SyncFinished,
    Tenant,
    TenantDelete,
)
from entrasync_shared.natsutil import call
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from pymongo import MongoClient

pytestmark = pytest.mark.timeout(300)

CLOUD = "deletelab"
SWEEP_SECONDS = 1.0
PAGE_LATENCY = 0.5  # per delta page: a full run of the tenant takes well over a minute
KEPT_FOR = 3 * SWEEP_SECONDS  # after the run ended and history drained: several sweeps


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(users=600, groups=40, devices=120, page_size=20, seed=29, tenants=2) as s:
        yield s


@pytest.fixture(scope="module")
def stack(
    infra: LocalInfra, sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    workdir: Path = tmp_path_factory.mktemp("deleted")
    env, prefix = simulated_stack_settings(
        sim,
        workdir,
        "e2e",
        prefix_label="deleted",
        cloud=CLOUD,
        extra={"ENTRASYNC_HISTORY_PURGE_SWEEP_SECONDS": str(SWEEP_SECONDS)},
    )
    services = ("config", "history", "syncer", "scheduler")
    with ServiceStack(
        infra.nats_url, infra.mongodb_uri, workdir, env, prefix=prefix, services=services
    ) as running:
        yield running


@pytest.fixture
def mongo(infra: LocalInfra) -> Iterator[MongoClient[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    yield client
    client.close()


class Traces:
    """Everything of one tenant that history and the syncer leave behind, read on demand."""

    def __init__(
        self,
        bus: NatsClient,
        stack: ServiceStack,
        mongo: MongoClient[dict[str, Any]],
        tenant_id: str,
    ) -> None:
        self.js, self.names, self.tenant_id = bus.jetstream(), stack.names, tenant_id
        self.db = mongo[stack.env["ENTRASYNC_HISTORY_DB"]]

    def documents(self) -> dict[str, dict[str, Any]]:
        """Inventory documents, history rows and runs, by collection and id."""
        return {
            f"{name}/{doc['_id']}": doc
            for name in ("inventory", "history", "runs")
            for doc in self.db[name].find({"tenant_id": self.tenant_id})
        }

    async def count(self, stream: str, subject: str) -> int:
        info = await self.js.stream_info(stream, subjects_filter=subject)
        return sum((info.state.subjects or {}).values())

    async def events(self) -> int:
        """Public events of the tenant: directory changes and recorded runs."""
        names = self.names
        directory = names.directory_event(self.tenant_id, "user", "created").split(".user.")[0]
        recorded = names.sync_recorded(self.tenant_id)
        return await self.count(names.events_stream, f"{directory}.>") + await self.count(
            names.events_stream, recorded
        )

    async def batches(self) -> int:
        every_type = self.names.observed(self.tenant_id, "user").rsplit(".", 1)[0] + ".*"
        return await self.count(self.names.pipeline_stream, self.names.stored(every_type))

    async def finish(self) -> SyncFinished | None:
        subject = self.names.stored(self.names.run_event(self.tenant_id, "finished"))
        if await self.count(self.names.pipeline_stream, subject) == 0:
            return None
        msg = await self.js.get_last_msg(self.names.pipeline_stream, subject)
        return SyncFinished.model_validate_json(msg.data)

    async def history_drained(self) -> bool:
        names = self.names
        info = await self.js.consumer_info(
            names.pipeline_stream, names.pipeline_consumer(self.tenant_id)
        )
        return info.num_pending == 0 and info.num_ack_pending == 0


async def delete_mid_run(
    bus: NatsClient,
    stack: ServiceStack,
    mongo: MongoClient[dict[str, Any]],
    sim: SimulatorProcess,
    index: int,
    *,
    purge: bool,
) -> tuple[Traces, dict[str, dict[str, Any]], int, SyncFinished]:
    """Register simulator tenant `index`, delete it once history applied a few of its slow
    run's batches; return its traces as the deletion was acknowledged, and the run's finish."""
    app = sim.tenants[index]
    with SimulatorControl(sim.control_url, sim.ca_file) as control:
        slow = control.inject_fault("*/delta", latency=PAGE_LATENCY, tenant_id=app["tenant_id"])
        try:
            tenant = await register(bus, stack, app, cloud=CLOUD)
            traces = Traces(bus, stack, mongo, tenant.id)

            async def applied(at_least: int) -> bool:
                return traces.db["inventory"].count_documents({"tenant_id": tenant.id}) >= at_least

            await eventually(lambda: applied(40), "a few batches", 60)
            # Right after a batch was applied: the next page is half a second away.
            before = traces.db["inventory"].count_documents({"tenant_id": tenant.id})
            await eventually(lambda: applied(before + 1), "one more batch", 30)
            await call(
                bus,
                stack.names.api("config", "tenant.delete"),
                TenantDelete(tenant_id=tenant.id, purge_history=purge),
                Tenant,
            )
            acknowledged = (traces.documents(), await traces.events())
            batches_then = await traces.batches()
            finish = await eventually(traces.finish, "the syncer to end the run", 60)
            # The syncer stopped at its next page instead of reading the tenant to its end.
            assert await traces.batches() - batches_then <= 3
            await eventually(traces.history_drained, "history to read everything", 60)
        finally:
            control.remove_fault(slow)
    return traces, acknowledged[0], acknowledged[1], finish


async def unchanged_for(seconds: float, probe: Any, expected: Any, what: str) -> None:
    """Poll `probe` for `seconds`: it must keep returning `expected`."""
    deadline = time.monotonic() + seconds
    while True:
        got = await probe()
        assert got == expected, f"{what} changed after the deletion was acknowledged"
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.25)


async def test_a_tenant_deleted_mid_run_keeps_its_history_as_it_was_and_its_run_cancelled(
    stack: ServiceStack,
    bus: NatsClient,
    mongo: MongoClient[dict[str, Any]],
    sim: SimulatorProcess,
) -> None:
    traces, documents, events, finish = await delete_mid_run(bus, stack, mongo, sim, 0, purge=False)

    assert finish.status == "Cancelled", finish
    cancelled = {key for key, doc in documents.items() if not key.startswith("inventory/")}
    assert cancelled, "the run had rows when the tenant was deleted"

    async def state() -> tuple[dict[str, dict[str, Any]], int]:
        return traces.documents(), await traces.events()

    async def kept() -> tuple[dict[str, dict[str, Any]], int]:
        # The rows were marked Cancelled when history heard of the deletion: compare the rest.
        docs, count = await state()
        return {k: v for k, v in docs.items() if k not in cancelled}, count

    inventory_then = {k: v for k, v in documents.items() if k.startswith("inventory/")}
    await unchanged_for(KEPT_FOR, kept, (inventory_then, events), "the inventory or events")
    docs, _ = await state()
    assert set(docs) == set(documents), "no row or run appeared"
    for key in cancelled:
        assert docs[key]["status"] == "Cancelled", docs[key]
        assert "tenant was deleted" in docs[key]["error"], docs[key]


async def test_a_tenant_erased_mid_run_stays_erased(
    stack: ServiceStack,
    bus: NatsClient,
    mongo: MongoClient[dict[str, Any]],
    sim: SimulatorProcess,
) -> None:
    traces, documents, events, finish = await delete_mid_run(bus, stack, mongo, sim, 1, purge=True)

    assert documents, "the run had written to the inventory when the tenant was deleted"
    assert finish.status == "Cancelled", finish

    async def state() -> tuple[dict[str, dict[str, Any]], int]:
        return traces.documents(), await traces.events()

    async def erased() -> bool:
        return (await state()) == ({}, events)

    await eventually(erased, "the purge")
    await unchanged_for(KEPT_FOR, state, ({}, events), "the erased tenant's data or events")
