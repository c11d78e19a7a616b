"""No endless loop on the pipeline: a message MongoDB cannot store is parked at once (and the
stream flows on), while a MongoDB outage is waited out however long it lasts, with nothing
parked. Neither leaves a traceback in history's log.

Real: history in-process on nats-server and mongod; for the outage, history reaches mongod
through a TCP forwarder the test cuts and restores.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from entrasync_devtools.infra import LocalInfra
from entrasync_history.main import build_app
from entrasync_history.settings import Settings
from entrasync_shared.subjects import Names
from history_helpers import TENANT, Pipeline, Run, eventually, obj
from pymongo.uri_parser import parse_uri
from tcp_proxy import TcpProxy

LIMIT = 2


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def pipeline_consumer(pipeline: Pipeline, names: Names) -> Any:
    return await pipeline.js.consumer_info(names.pipeline_stream, names.pipeline_consumer(TENANT))


async def ack_floor_reaches(pipeline: Pipeline, names: Names, sequence: int) -> bool:
    consumer = await pipeline_consumer(pipeline, names)
    return bool(consumer.ack_floor.stream_seq >= sequence)


async def test_a_batch_mongodb_cannot_store_is_parked_at_once_and_the_rest_flows(
    history: None, pipeline: Pipeline, names: Names, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    poison = Run(pipeline, "delta").batch("user", [obj("u1", **{"bad\x00key": "x"})])
    await pipeline.publish_batch(poison)

    async def parked() -> list[tuple[str, dict[str, str], bytes]]:
        return await pipeline.stream_messages(names.dead_letter_stream)

    [(subject, headers, payload)] = await eventually(parked, "the batch parked")
    run = await Run(pipeline, "delta").start()
    await run.send("user", [obj("u2", displayName="B")])
    recorded = await run.finish()

    assert subject == names.dead_letter("history") and payload == poison.model_dump_json().encode()
    assert headers["Entrasync-Reason"] == (
        "cannot be stored: object 'u1': attributes key 'bad\\x00key' holds a NUL character"
    )
    assert recorded["data"]["status"] == "Succeeded"
    consumer = await pipeline_consumer(pipeline, names)
    assert (consumer.num_ack_pending, consumer.num_redelivered) == (0, 0)
    assert await db.inventory.find_one({"object_id": "u1"}) is None
    assert tracebacks(caplog) == []


@pytest.fixture
async def mongo_proxy(infra: LocalInfra) -> AsyncIterator[TcpProxy]:
    host, port = parse_uri(infra.mongodb_uri)["nodelist"][0]
    proxy = TcpProxy(host, port)
    await proxy.restore()
    yield proxy
    await proxy.cut()


@pytest.fixture
async def history_behind_proxy(
    infra: LocalInfra, names: Names, db_name: str, mongo_proxy: TcpProxy, db: Any
) -> AsyncIterator[None]:
    settings = Settings(
        ENTRASYNC_NATS_URL=infra.nats_url,
        ENTRASYNC_MONGODB_URI=f"mongodb://127.0.0.1:{mongo_proxy.port}/"
        "?directConnection=true&serverSelectionTimeoutMS=300",
        ENTRASYNC_PREFIX=names.prefix,
        ENTRASYNC_HISTORY_DB=db_name,
        ENTRASYNC_HISTORY_FINISH_WAIT_SECONDS=0.2,
        ENTRASYNC_HISTORY_RETRY_DELAY_SECONDS=0.2,
        ENTRASYNC_MAX_FAILED_DELIVERIES=LIMIT,
    )
    async with build_app(settings):
        yield


async def test_a_mongodb_outage_is_retried_past_the_limit_and_nothing_is_parked(
    history_behind_proxy: None,
    mongo_proxy: TcpProxy,
    pipeline: Pipeline,
    names: Names,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = await Run(pipeline, "delta").start()
    await eventually(lambda: ack_floor_reaches(pipeline, names, 1), "the run's start applied")
    await mongo_proxy.cut()
    await run.send("user", [obj("u1", displayName="A")])
    await pipeline.publish(names.run_event(TENANT, "finished"), run.finished())

    async def retried_past_the_limit() -> bool:
        consumer = await pipeline_consumer(pipeline, names)
        return consumer.num_redelivered > 0 and consumer.delivered.consumer_seq > 3 * LIMIT

    await eventually(retried_past_the_limit, "redeliveries during the outage", within=60)
    await mongo_proxy.restore()
    recorded = await pipeline.recorded(run.run_id)

    assert recorded["data"]["status"] == "Succeeded"
    assert await pipeline.stream_messages(names.dead_letter_stream) == []
    assert tracebacks(caplog) == []
