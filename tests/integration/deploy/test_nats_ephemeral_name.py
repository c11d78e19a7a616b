"""What subject permissions cannot fence, checked on the pinned nats-server: a reader may create
ephemeral (ordered) consumers on the legacy subject `$JS.API.CONSUMER.CREATE.<stream>`, and a
create whose body *names* (`name`, not `durable_name`) an existing durable updates that durable's
mutable settings. nats-server 2.9.10 did so, and 2.15.1 still does (`entrasync_shared.permissions`
documents the limit). Should a server version close it, this test fails: update the doc."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from entrasync_devtools.infra import LocalInfra
from entrasync_shared.natsutil import connect, ensure_streams
from entrasync_shared.subjects import Names
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

pytestmark = pytest.mark.timeout(120)
NAMES = Names("ephname")
AUDIT = "audit"  # a durable another team runs on the events stream


@pytest.fixture(scope="module")
def fenced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfra]:
    workdir = tmp_path_factory.mktemp("ephemeral-name-nats")
    with LocalInfra(mongo=False, use_env=False, secure=NAMES, workdir=workdir) as running:
        yield running


async def test_an_ephemeral_create_naming_a_durable_retunes_it(fenced: LocalInfra) -> None:
    stream = NAMES.events_stream
    admin = await connect(fenced.user_url("admin"))
    reader = await connect(fenced.user_url("reader"))
    try:
        js = admin.jetstream()
        await ensure_streams(js, NAMES)
        await js.add_consumer(
            stream, ConsumerConfig(durable_name=AUDIT, ack_wait=30, ack_policy=AckPolicy.EXPLICIT)
        )
        config = {
            "name": AUDIT,
            "ack_wait": 5 * 10**9,  # nanoseconds
            "ack_policy": "explicit",
            "deliver_policy": DeliverPolicy.ALL.value,
            "replay_policy": "instant",
        }
        request = json.dumps({"stream_name": stream, "config": config}).encode()
        answer = await reader.request(f"$JS.API.CONSUMER.CREATE.{stream}", request, timeout=5)
        assert "error" not in json.loads(answer.data), answer.data
        info = await js.consumer_info(stream, AUDIT)
        assert info.config.ack_wait == 5.0  # retuned by a user who may not even read it
    finally:
        await reader.close()
        await admin.close()
