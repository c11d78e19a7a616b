"""The kit's metrics on a real NATS: an `ApiRouter` counts requests by code and their latency,
a `DurableConsumer` counts outcomes (and its parks as dead letters), its pending and
ack-pending messages are sampled at scrape, and a broker's publishes count per catalog flow —
all read back through a health server's `/metrics`, as Prometheus would.

Real: nats-server with JetStream (session `infra`), FastStream brokers, the test's streams.
"""

from __future__ import annotations

import asyncio

import httpx
from entrasync_devtools.infra import LocalInfra
from entrasync_shared import catalog
from entrasync_shared.catalog import NoArguments, SyncerApi
from entrasync_shared.health import HealthServer
from entrasync_shared.kit.api import ApiRouter
from entrasync_shared.kit.consumers import Delivery, DurableConsumer, Later, Outcome, Park
from entrasync_shared.messages import Health, StartSync
from entrasync_shared.natsutil import call, subscriptions_in_place
from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from prometheus_client.parser import text_string_to_metric_families
from support.polling import eventually

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape() -> Samples:
    """Every sample the process serves at `/metrics`, keyed by name and labels."""
    server = HealthServer(0, {}, host="127.0.0.1")
    await server.start()
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await client.get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        await server.stop()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def health_router() -> ApiRouter[None]:
    router: ApiRouter[None] = ApiRouter("syncer")

    @router.handles(SyncerApi.health)
    async def health(request: NoArguments, deps: None) -> Health:
        return Health(service="syncer", ok=True)

    return router


async def test_api_requests_count_by_code_with_their_latency(
    nc: NatsClient, infra: LocalInfra, names: Names
) -> None:
    broker = NatsBroker(infra.nats_url)
    health_router().attach(broker, names, lambda: None)
    before = await scrape()
    async with broker:
        await broker.start()
        await subscriptions_in_place(broker.connection)
        subject = SyncerApi.health.subject(names)
        await call(nc, subject, None, Health)
        await nc.request(subject, b"not json", timeout=5)
    after = await scrape()

    labels = {"service": "syncer", "verb": "health"}
    assert moved(before, after, "entrasync_api_requests_total", code="ok", **labels) == 1
    assert moved(before, after, "entrasync_api_requests_total", code="validation", **labels) == 1
    count = "entrasync_api_request_duration_seconds_count"
    assert moved(before, after, count, **labels) == 2


def commands() -> DurableConsumer[asyncio.Event]:
    consumer = DurableConsumer[asyncio.Event](catalog.durable("syncer", "commands"))

    @consumer.handles
    async def on_command(command: StartSync, gate: asyncio.Event, delivery: Delivery) -> Outcome:
        await gate.wait()
        if command.tenant_id == "park":
            return Park("given up")
        if command.tenant_id == "later" and delivery.deliveries == 1:
            return Later(0.05)
        return None

    return consumer


async def queue(nc: NatsClient, names: Names, tenant_id: str) -> None:
    command = StartSync(run_id=f"r-{tenant_id}", tenant_id=tenant_id, mode="full", reason="flag")
    subject = names.sync_command(tenant_id)
    await nc.jetstream().publish(subject, command.model_dump_json().encode())


async def test_consumer_outcomes_dead_letters_lag_and_publishes_are_counted(
    nc: NatsClient, infra: LocalInfra, names: Names
) -> None:
    consumer, gate = commands(), asyncio.Event()
    broker = NatsBroker(infra.nats_url)
    consumer.attach(broker, names, lambda: gate, fetch_timeout=0.5)
    health_router().attach(broker, names, lambda: None)  # it counts the broker's publishes
    labels = {"service": "syncer", "consumer": "commands"}
    before = await scrape()
    async with broker:
        await broker.start()
        for tenant_id in ("done", "later", "park"):
            await queue(nc, names, tenant_id)
        durable = names.consumer("syncer", "commands")
        await eventually(
            lambda: nc.jetstream().consumer_info(names.commands_stream, durable),
            "the first command held by its handler",
            accept=lambda info: info.num_ack_pending == 1,
        )
        waiting = await scrape()
        gate.set()
        await eventually(
            lambda: nc.jetstream().consumer_info(
                names.commands_stream, names.consumer("syncer", "commands")
            ),
            "every command settled",
            accept=lambda info: info.num_pending == 0 and info.num_ack_pending == 0,
        )
        await broker.publish(
            StartSync(run_id="r-x", tenant_id="x", mode="full", reason="flag"),
            names.sync_command("x"),
            stream=names.commands_stream,
        )
        settled = await scrape()

    assert value(waiting, "entrasync_consumer_pending_messages", **labels) == 2
    assert value(waiting, "entrasync_consumer_ack_pending_messages", **labels) == 1
    assert (
        moved(before, settled, "entrasync_consumer_messages_total", outcome="later", **labels) == 1
    )
    assert (
        moved(before, settled, "entrasync_consumer_messages_total", outcome="handled", **labels)
        >= 2
    )
    assert (
        moved(before, settled, "entrasync_consumer_messages_total", outcome="parked", **labels) == 1
    )
    assert moved(before, settled, "entrasync_dead_letters_total", service="syncer") == 1
    published = "entrasync_messages_published_total"
    assert moved(before, settled, published, service="syncer", flow="startSync") == 1
    assert moved(before, settled, published, service="syncer", flow="deadLetter") == 1
