"""The kit's consumers on a real JetStream: a handler's `Park` parks and acks, `Terminate` ends a
message without parking it, `keepalive` keeps a long handling past the ack wait, and an ordered
view with `parks=False` skips what it cannot read without parking it.

Real: nats-server with JetStream (session `infra`), a FastStream broker, the test's streams. The
consumers are the kit's, on the syncer's catalog durable and flows (which need these outcomes).
"""

from __future__ import annotations

import asyncio

from entrasync_devtools.infra import LocalInfra
from entrasync_shared import catalog
from entrasync_shared.deadletter import REASON_HEADER
from entrasync_shared.kit.consumers import (
    Delivery,
    DurableConsumer,
    Later,
    OrderedConsumer,
    Outcome,
    Park,
    Terminate,
)
from entrasync_shared.messages import StartSync, TenantDeleted
from entrasync_shared.subjects import Names
from faststream.nats import DeliverPolicy, NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerInfo
from support.polling import eventually

OUTCOMES: dict[str, Outcome] = {
    "park": Park("given up: the run failed"),
    "term": Terminate(),
    "slow": None,
}


class Seen:
    def __init__(self) -> None:
        self.deliveries: list[tuple[str, int]] = []


def command_consumer() -> DurableConsumer[Seen]:
    consumer = DurableConsumer[Seen](catalog.durable("syncer", "commands"))

    @consumer.handles
    async def on_command(command: StartSync, seen: Seen, delivery: Delivery) -> Outcome:
        seen.deliveries.append((command.tenant_id, delivery.deliveries))
        if command.tenant_id == "slow":
            await asyncio.sleep(1.6)  # outlives the 1 s ack wait
        return OUTCOMES.get(command.tenant_id, Later(0.05))

    return consumer


async def publish_command(nc: NatsClient, names: Names, tenant_id: str) -> None:
    command = StartSync(
        run_id=f"run-{tenant_id}",
        tenant_id=tenant_id,
        mode="full",
        reason="flag",
        object_types=("user",),
    )
    payload = command.model_dump_json().encode()
    await nc.jetstream().publish(
        names.sync_command(tenant_id), payload, stream=names.commands_stream
    )


async def consumer_info(nc: NatsClient, names: Names) -> ConsumerInfo:
    durable = names.consumer("syncer", "commands")
    return await nc.jetstream().consumer_info(names.commands_stream, durable)


async def dead_letters(nc: NatsClient, names: Names) -> list[dict[str, str]]:
    js = nc.jetstream()
    info = await js.stream_info(names.dead_letter_stream)
    if not info.state.messages:
        return []
    seqs = range(info.state.first_seq, info.state.last_seq + 1)
    return [dict((await js.get_msg(names.dead_letter_stream, seq)).headers or {}) for seq in seqs]


async def test_park_terminate_and_keepalive_settle_each_command_once(
    nc: NatsClient, infra: LocalInfra, names: Names
) -> None:
    seen, consumer = Seen(), command_consumer()
    # Two replicas: without the keepalive, the other one would get the slow command again.
    first, second = NatsBroker(infra.nats_url), NatsBroker(infra.nats_url)
    for broker in (first, second):
        consumer.attach(broker, names, lambda: seen, fetch_timeout=0.5, ack_wait=1.0, keepalive=0.3)
    async with first, second:
        await first.start()
        await second.start()
        for tenant_id in ("slow", "park", "term"):
            await publish_command(nc, names, tenant_id)

        settled = await eventually(
            lambda: consumer_info(nc, names),
            "every command settled",
            accept=lambda info: info.num_pending == 0 and info.num_ack_pending == 0,
        )
        parked = await dead_letters(nc, names)

    assert sorted(seen.deliveries) == [("park", 1), ("slow", 1), ("term", 1)]
    assert settled.num_redelivered == 0
    assert [headers[REASON_HEADER] for headers in parked] == ["given up: the run failed"]
    assert (consumer.stats.parked, consumer.stats.handled) == (1, 1)


async def test_an_ordered_view_that_does_not_park_skips_an_unreadable_event(
    nc: NatsClient, infra: LocalInfra, names: Names
) -> None:
    deleted: list[str] = []
    view = OrderedConsumer[list[str]](
        "syncer", "tenant_deleted", ("tenantDeleted",), DeliverPolicy.ALL, parks=False
    )

    @view.handles
    async def on_deleted(event: TenantDeleted, seen: list[str]) -> None:
        seen.append(event.tenant_id)

    js = nc.jetstream()
    subject = names.tenant_event("deleted")
    await js.publish(subject, b'{"not": "an event"}', stream=names.config_stream)
    await js.publish(
        subject,
        TenantDeleted(tenant_id="t1").model_dump_json().encode(),
        stream=names.config_stream,
    )
    broker = NatsBroker(infra.nats_url)
    view.attach(broker, names, lambda: deleted)
    async with broker:
        await broker.start()

        async def handled() -> list[str]:
            return deleted

        await eventually(handled, "the readable event handled", accept=lambda ids: ids == ["t1"])

    assert await dead_letters(nc, names) == []
    assert (view.stats.parked, view.stats.handled) == (0, 1)
