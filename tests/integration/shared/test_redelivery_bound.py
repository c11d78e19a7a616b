"""`settle_failure` on a real JetStream durable pull consumer: the delivery count comes from the
server, a message failing for good is parked after the limit (and the consumer moves on), and an
outage is retried past the limit until it ends.

Real: nats-server with JetStream (session `infra`), a FastStream broker, the test's streams.
"""

from __future__ import annotations

from collections.abc import Callable

from entrasync_devtools.infra import LocalInfra
from entrasync_history.adapters.mongo_outages import MONGO_OUTAGES
from entrasync_shared.deadletter import REASON_HEADER, SUBJECT_HEADER, DeadLetters, settle_failure
from entrasync_shared.subjects import Names
from faststream import AckPolicy
from faststream.nats import DeliverPolicy, JStream, NatsBroker, NatsMessage, PullSub
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig
from pymongo.errors import ServerSelectionTimeoutError
from support.polling import eventually

LIMIT = 3


class Consumer:
    """A durable pull consumer of the pipeline stream whose handler fails as told."""

    def __init__(self, infra: LocalInfra, names: Names) -> None:
        self.names = names
        self.broker = NatsBroker(infra.nats_url)
        self.letters = DeadLetters(self.broker, names, "history")
        self.deliveries: dict[bytes, int] = {}
        self.failures: dict[bytes, Exception] = {}
        self.acked: list[bytes] = []

        @self.broker.subscriber(
            names.pipeline_all,
            stream=JStream(names.pipeline_stream, declare=False),
            durable=names.consumer("history", "pipeline-test"),
            deliver_policy=DeliverPolicy.ALL,
            pull_sub=PullSub(batch_size=1, timeout=0.5),
            ack_policy=AckPolicy.MANUAL,
            config=ConsumerConfig(ack_wait=30, max_deliver=-1),
        )
        async def on_message(msg: NatsMessage) -> None:
            data = msg.raw_message.data
            self.deliveries[data] = msg.raw_message.metadata.num_delivered or 1
            error = self.failures.get(data)
            if error is None:
                self.acked.append(data)
                await msg.ack()
                return
            seq = msg.raw_message.metadata.sequence.stream
            await settle_failure(
                msg,
                error,
                self.letters,
                limit=LIMIT,
                delay=0.05,
                msg_id=f"test:{seq}",
                also=MONGO_OUTAGES,  # as history passes them: shared/ knows no database
                subject=names.published(msg.raw_message.subject),  # as the kit passes it
            )


async def until(condition: Callable[[], bool], what: str) -> None:
    async def probe() -> bool:
        return condition()

    await eventually(probe, what)


async def parked(nc: NatsClient, names: Names) -> list[tuple[dict[str, str], bytes]]:
    js = nc.jetstream()
    info = await js.stream_info(names.dead_letter_stream)
    if not info.state.messages:
        return []
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        stored = await js.get_msg(names.dead_letter_stream, seq)
        found.append((dict(stored.headers or {}), stored.data))
    return found


async def test_a_message_failing_for_good_is_parked_after_the_limit_and_the_rest_flows(
    nc: NatsClient, infra: LocalInfra, names: Names
) -> None:
    consumer = Consumer(infra, names)
    subject = names.observed("t1", "user")
    consumer.failures[b"poison"] = KeyError("attributes")
    js = nc.jetstream()
    async with consumer.broker:
        await consumer.broker.start()
        await js.publish(subject, b"poison", stream=names.pipeline_stream)
        await js.publish(subject, b"fine", stream=names.pipeline_stream)

        [(headers, payload)] = await eventually(lambda: parked(nc, names), "a parked message")
        await until(lambda: b"fine" in consumer.acked, "the next message handled")

    assert payload == b"poison" and consumer.deliveries[b"poison"] == LIMIT
    assert headers[SUBJECT_HEADER] == subject
    assert headers[REASON_HEADER] == "failed 3 deliveries: KeyError: 'attributes'"
    assert consumer.letters.parked == 1


async def test_an_outage_is_retried_past_the_limit_until_it_ends(
    nc: NatsClient, infra: LocalInfra, names: Names
) -> None:
    consumer = Consumer(infra, names)
    consumer.failures[b"batch"] = ServerSelectionTimeoutError("mongod is down")
    js = nc.jetstream()
    async with consumer.broker:
        await consumer.broker.start()
        await js.publish(names.observed("t1", "user"), b"batch", stream=names.pipeline_stream)

        await until(lambda: consumer.deliveries.get(b"batch", 0) > 2 * LIMIT, "redeliveries")
        del consumer.failures[b"batch"]  # the outage ends
        await until(lambda: b"batch" in consumer.acked, "the ack once the outage is over")

    assert await parked(nc, names) == []
