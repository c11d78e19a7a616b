"""A pipeline message history held when it died comes back before anything newer (issue 17.9),
on the real nats-server: the pipeline durable has `max_ack_pending=1`, and a durable created
before that (or with another ack wait) is updated at startup."""

from __future__ import annotations

import json
from typing import Any

from entrasync_devtools.infra import LocalInfra
from entrasync_history.main import build_app
from entrasync_shared.natsutil import ensure_streams
from entrasync_shared.subjects import Names, pipeline_partition_of
from history_helpers import TENANT, Pipeline, Run, eventually, full_run, history_settings, obj
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

ACK_WAIT = 2.0


def settings(infra: LocalInfra, names: Names, db_name: str) -> Any:
    return history_settings(infra, names, db_name).model_copy(
        update={"pipeline_ack_wait_seconds": ACK_WAIT, "keepalive_seconds": 0.5}
    )


async def created_before_the_fix(nc: NatsClient, names: Names) -> None:
    """The durable as history created it before: ack wait 120 s, the server's max_ack_pending."""
    js = nc.jetstream()
    await ensure_streams(js, names)
    config = ConsumerConfig(
        durable_name=names.pipeline_consumer(TENANT),
        filter_subject=names.pipeline_partition(pipeline_partition_of(TENANT)),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=120,
        max_deliver=-1,
    )
    await js.add_consumer(names.pipeline_stream, config)


async def die_holding_the_next_batch(nc: NatsClient, names: Names) -> str:
    """What a history killed mid-batch leaves: the run's start acked, its batch delivered and
    never acked. Returns the held message's id."""
    js = nc.jetstream()
    sub = await js.pull_subscribe_bind(
        durable=names.pipeline_consumer(TENANT), stream=names.pipeline_stream
    )
    [started] = await sub.fetch(1, timeout=5)
    await started.ack()
    [held] = await sub.fetch(1, timeout=5)
    assert held.subject == names.stored(names.observed(TENANT, "group"))
    await sub.unsubscribe()
    return str(held.headers and held.headers.get("Nats-Msg-Id"))


async def recorded_runs(pipeline: Pipeline, *run_ids: str) -> list[str]:
    async def probe() -> list[str] | None:
        recorded = [
            e["data"]["run_id"]
            for e in await pipeline.events()
            if e["type"] == "io.entrasync.sync.recorded" and e["data"]["run_id"] in run_ids
        ]
        return recorded if len(recorded) == len(run_ids) else None

    return await eventually(probe, f"runs {run_ids} recorded", 30)


async def test_a_batch_history_died_holding_is_applied_before_newer_messages(
    infra: LocalInfra, names: Names, db_name: str, nc: NatsClient, pipeline: Pipeline, db: Any
) -> None:
    await created_before_the_fix(nc, names)
    async with build_app(settings(infra, names, db_name)):
        info = await nc.jetstream().consumer_info(
            names.pipeline_stream, names.pipeline_consumer(TENANT)
        )
        assert (info.config.max_ack_pending, info.config.ack_wait) == (1, ACK_WAIT)
        await full_run(pipeline)

    # A delta run adds u04 to g1; history dies holding that batch.
    first = await Run(pipeline, "delta").start()
    await first.send("group", [obj("g1", ["u04"], displayName="g1")])
    await die_holding_the_next_batch(nc, names)
    # Meanwhile the run ends and the next run renames g1 (no member change).
    await pipeline.publish(pipeline.names.run_event(first.tenant_id, "finished"), first.finished())
    second = await Run(pipeline, "delta").start()
    await second.send("group", [obj("g1", displayName="Group one")])
    await pipeline.publish(
        pipeline.names.run_event(second.tenant_id, "finished"), second.finished()
    )

    async with build_app(settings(infra, names, db_name)):
        order = await recorded_runs(pipeline, first.run_id, second.run_id)

    assert order == [first.run_id, second.run_id]
    group = await db["inventory"].find_one({"object_type": "group", "object_id": "g1"})
    assert group["attributes"]["displayName"] == "Group one"
    assert "u04" in {m.rsplit(":", 1)[-1].rsplit("/", 1)[-1] for m in group["members"]}
    events = [
        (e["type"].rsplit(".", 1)[1], e["data"]["run_id"])
        for e in await pipeline.events()
        if e["type"].startswith("io.entrasync.directory.") and e["subject"] == "g1"
    ]
    assert events[-2:] == [("members_changed", first.run_id), ("updated", second.run_id)]


async def test_a_finish_held_for_its_batches_is_found_without_a_collection_scan(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    run = await Run(pipeline, "full").start()
    held = run.batch("user", [obj("u1", displayName="A")])
    await pipeline.publish(pipeline.names.run_event(TENANT, "finished"), run.finished())

    async def holding() -> Any:
        return await db["runs"].find_one({"_id": run.run_id, "held_finish": {"$exists": True}})

    await eventually(holding, "the finish held")
    plan = await db["runs"].find({"held_finish.waits": {"$exists": True}}).explain()
    assert "COLLSCAN" not in json.dumps(plan["queryPlanner"]["winningPlan"])

    await pipeline.publish_batch(held)
    recorded = await pipeline.recorded(run.run_id)
    assert recorded["data"]["status"] == "Succeeded"
    assert await holding() is None
