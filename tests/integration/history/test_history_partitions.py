"""The partitioned pipeline on the real nats-server (issue 22): the stream puts each tenant in
the partition `pipeline_partition_of` names, and a message held in one partition holds back
only that partition — another tenant's run is applied meanwhile (no head-of-line blocking)."""

from __future__ import annotations

import uuid
from typing import Any

from entrasync_devtools.infra import LocalInfra
from entrasync_history.main import build_app
from entrasync_shared.natsutil import ensure_streams
from entrasync_shared.subjects import PIPELINE_PARTITIONS, Names, pipeline_partition_of
from history_helpers import TENANT, Pipeline, Run, eventually, history_settings, obj
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

ACK_WAIT = 120.0


def other_tenant() -> str:
    """A tenant in another partition than `TENANT`."""
    while True:
        candidate = str(uuid.uuid4())
        if pipeline_partition_of(candidate) != pipeline_partition_of(TENANT):
            return candidate


async def test_the_stream_stores_each_tenant_in_the_partition_the_code_names(
    nc: NatsClient, names: Names
) -> None:
    js = nc.jetstream()
    await ensure_streams(js, names)
    tenants = [str(uuid.uuid4()) for _ in range(600)] + ["t1", "abc", TENANT]
    for tenant in tenants:
        await js.publish(names.run_event(tenant, "started"), b"{}", stream=names.pipeline_stream)
    info = await js.stream_info(names.pipeline_stream, subjects_filter=names.pipeline_all)
    stored = set((info.state.subjects or {}).keys())

    assert stored == {names.stored(names.run_event(tenant, "started")) for tenant in tenants}
    assert {pipeline_partition_of(t) for t in tenants} == set(range(PIPELINE_PARTITIONS))
    for tenant in tenants:
        partition = pipeline_partition_of(tenant)
        assert f".part.{partition}.run.{tenant}." in names.stored(names.run_event(tenant, "x"))


async def hold_a_message_of(nc: NatsClient, names: Names, tenant_id: str) -> Any:
    """What a replica busy with (or killed on) one of `tenant_id`'s messages leaves: the next
    message of its partition delivered and not acked. The durable is made as history makes it
    (one unacked message at a time), with a long ack wait."""
    js = nc.jetstream()
    config = ConsumerConfig(
        durable_name=names.pipeline_consumer(tenant_id),
        filter_subject=names.pipeline_partition(pipeline_partition_of(tenant_id)),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT,
        max_ack_pending=1,
        max_deliver=-1,
    )
    await js.add_consumer(names.pipeline_stream, config)
    sub = await js.pull_subscribe_bind(
        durable=names.pipeline_consumer(tenant_id), stream=names.pipeline_stream
    )
    [held] = await sub.fetch(1, timeout=10)
    return held


async def test_a_message_held_in_one_partition_holds_back_no_other_tenant(
    infra: LocalInfra, pipeline: Pipeline, names: Names, nc: NatsClient, db_name: str, db: Any
) -> None:
    await ensure_streams(nc.jetstream(), names)
    blocked = await Run(pipeline, "full").start()
    held = await hold_a_message_of(nc, names, TENANT)
    assert held.subject == names.stored(names.run_event(TENANT, "started"))
    settings = history_settings(infra, names, db_name).model_copy(
        update={"pipeline_ack_wait_seconds": ACK_WAIT, "keepalive_seconds": 1.0}
    )
    async with build_app(settings):
        other = Run(pipeline, "full", tenant_id=other_tenant())
        await other.start()
        await other.send("user", [obj("v1", displayName="C")])
        await pipeline.publish(names.run_event(other.tenant_id, "finished"), other.finished())
        # Far below the held message's ack wait: nothing waits for it.
        recorded = await eventually(
            lambda: pipeline.recorded_now(other.run_id, other.tenant_id), "the run", within=20
        )

    assert recorded["data"]["status"] == "Succeeded"
    assert await db["runs"].find_one({"_id": blocked.run_id}) is None  # still held back
