"""A deleted tenant stays deleted in history, with real NATS and MongoDB (issue 18, defect 3):
messages of the tenant still on the pipeline after its deletion change nothing, its run stays
Cancelled, and after a purge the sweep erases what a message in flight wrote anyway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from entrasync_devtools.infra import LocalInfra
from entrasync_history.main import build_app
from entrasync_history.settings import Settings
from entrasync_shared.messages import TenantDeleted
from entrasync_shared.subjects import Names
from history_helpers import TENANT, Pipeline, Run, eventually, full_run, live_inventory, obj
from nats.aio.client import Client as NatsClient

ERASED = ("inventory", "history", "runs")


@pytest.fixture
async def sweeping_history(infra: LocalInfra, names: Names, db_name: str) -> AsyncIterator[None]:
    """The history service, sweeping purged tenants every 0.2 s."""
    settings = Settings(
        ENTRASYNC_NATS_URL=infra.nats_url,
        ENTRASYNC_MONGODB_URI=infra.mongodb_uri,
        ENTRASYNC_PREFIX=names.prefix,
        ENTRASYNC_HISTORY_DB=db_name,
        ENTRASYNC_HISTORY_FINISH_WAIT_SECONDS=0.2,
        ENTRASYNC_HISTORY_PURGE_SWEEP_SECONDS=0.2,
    )
    async with build_app(settings):
        yield


async def delete_tenant(pipeline: Pipeline, *, purge: bool) -> None:
    deleted = TenantDeleted(tenant_id=TENANT, purge_history=purge)
    await pipeline.js.publish(
        pipeline.names.tenant_event("deleted"),
        deleted.model_dump_json().encode(),
        stream=pipeline.names.config_stream,
    )


async def drained(pipeline: Pipeline) -> None:
    """Until history has read and acknowledged every pipeline message."""
    names = pipeline.names

    async def nothing_left() -> bool:
        info = await pipeline.js.consumer_info(
            names.pipeline_stream, names.pipeline_consumer(TENANT)
        )
        return info.num_pending == 0 and info.num_ack_pending == 0

    await eventually(nothing_left, "history to read the whole pipeline")


async def run_status(db: Any, run_id: str) -> str | None:
    run = await db["runs"].find_one({"_id": run_id})
    return run["status"] if run else None


async def test_a_deleted_tenants_late_batch_and_finish_change_nothing_and_its_run_stays_cancelled(
    sweeping_history: None, pipeline: Pipeline, db: Any, nc: NatsClient
) -> None:
    await full_run(pipeline)
    running = await Run(pipeline, "delta").start()
    await eventually(lambda: run_status(db, running.run_id), "the run to be Running")
    inventory = await live_inventory(db, TENANT, "user")

    await delete_tenant(pipeline, purge=False)

    async def cancelled() -> bool:
        return await run_status(db, running.run_id) == "Cancelled"

    await eventually(cancelled, "the run to be cancelled")
    await running.send("user", [obj("u99", displayName="Late")], [("u00", "deleted")])
    await pipeline.publish(pipeline.names.run_event(TENANT, "finished"), running.finished())
    await drained(pipeline)

    assert await run_status(db, running.run_id) == "Cancelled"
    assert await live_inventory(db, TENANT, "user") == inventory
    assert await pipeline.object_events(running.run_id) == []
    rows = [row async for row in db["history"].find({"run_id": running.run_id})]
    assert rows and {row["status"] for row in rows} == {"Cancelled"}


async def test_a_purge_is_final_a_late_batch_is_dropped_and_stragglers_are_swept(
    sweeping_history: None, pipeline: Pipeline, db: Any, nc: NatsClient
) -> None:
    await full_run(pipeline)
    running = await Run(pipeline, "delta").start()
    await eventually(lambda: run_status(db, running.run_id), "the run to be Running")

    await delete_tenant(pipeline, purge=True)

    async def erased() -> bool:
        left = [await db[name].count_documents({"tenant_id": TENANT}) for name in ERASED]
        return sum(left) == 0

    await eventually(erased, "the purge")
    await running.send("user", [obj("u99", displayName="Late")])
    await pipeline.publish(pipeline.names.run_event(TENANT, "finished"), running.finished())
    await drained(pipeline)
    assert await erased()
    assert await pipeline.object_events(running.run_id) == []
    # What a batch already past the tombstone check wrote while the purge ran:
    await db["inventory"].insert_one(
        {"_id": f"{TENANT}:user:u98", "tenant_id": TENANT, "object_type": "user",
         "object_id": "u98", "deleted": False, "updated_at": datetime.now(UTC)}
    )  # fmt: skip
    await eventually(erased, "the sweep to erase the straggler")
