"""JetStream consumers are fenced per service: each service's user may create, read, pull from
and ack only its own durables (by name) and delete none, a reader may only create ephemeral
(ordered) consumers, and only admin touches streams. Real nats-server with the generated config;
the durables are the services' own (`catalog.DURABLES`) plus one another team runs ("audit")."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from entrasync_devtools.infra import LocalInfra
from entrasync_shared import catalog
from entrasync_shared.natsutil import connect, ensure_streams
from entrasync_shared.permissions import SERVICE_USERS
from entrasync_shared.subjects import Names, inbox_prefix, pipeline_partition_of
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from nats_probe import names_refused, refused

pytestmark = pytest.mark.timeout(120)
NAMES = Names("fence")
E, C, P, K = (NAMES.events_stream, NAMES.config_stream, NAMES.pipeline_stream,
              NAMES.commands_stream)  # fmt: skip
AUDIT = "audit"  # a durable of some other consumer of events and config changes
API = "$JS.API.CONSUMER"


def durable(service: str, purpose: str) -> str:
    return NAMES.consumer(service, purpose)


def ack(stream: str, consumer: str) -> str:
    """The reply subject JetStream gives a delivered message (guessable: sequence numbers)."""
    return f"$JS.ACK.{stream}.{consumer}.1.1.1.1796593794141440088.0"


CONFIG_DURABLE = durable("config", "sync-recorded")
TENANT_DELETED = durable("history", "tenant-deleted")
REFUSED: dict[str, tuple[str, ...]] = {
    "reader": (
        f"{API}.DELETE.{E}.{CONFIG_DURABLE}",
        f"{API}.MSG.NEXT.{E}.{CONFIG_DURABLE}",
        ack(E, CONFIG_DURABLE),
        f"{API}.DELETE.{E}.{AUDIT}",
        f"{API}.DURABLE.CREATE.{E}.reader-feed",
        f"{API}.CREATE.{E}.reader-feed",
        f"{API}.INFO.{E}.{CONFIG_DURABLE}",
    ),
    "scheduler": (
        f"{API}.DELETE.{C}.{TENANT_DELETED}",
        f"{API}.MSG.NEXT.{C}.{TENANT_DELETED}",
        ack(C, TENANT_DELETED),
        f"{API}.DELETE.{E}.{CONFIG_DURABLE}",
    ),
    "config": (
        f"{API}.MSG.NEXT.{E}.{AUDIT}",
        ack(E, AUDIT),
        f"{API}.DELETE.{E}.{CONFIG_DURABLE}",  # not even its own
        f"{API}.CREATE.{E}.{AUDIT}",
    ),
    "history": (
        f"{API}.MSG.NEXT.{C}.{AUDIT}",
        f"{API}.DELETE.{P}.{durable('history', 'pipeline-0')}",
        f"{API}.DURABLE.CREATE.{C}.{AUDIT}",
    ),
    "syncer": (
        f"{API}.DELETE.{K}.{durable('syncer', 'commands')}",
        f"{API}.MSG.NEXT.{E}.{CONFIG_DURABLE}",
    ),
}


def first_subject(declared: catalog.Durable) -> str:
    """The subjects of a durable's first flow (a partition's, if partitioned): enough to
    receive one message."""
    if declared.partition is not None:
        return NAMES.pipeline_partition(declared.partition)
    return catalog.flow(declared.flows[0]).pattern(NAMES)


def a_message_for(declared: catalog.Durable) -> str:
    """A subject to publish to that `declared` receives."""
    if declared.partition is None:
        return first_subject(declared).replace("*", "t1").replace(">", "t1.x")
    tenant = next(
        f"t{n}" for n in range(1000) if pipeline_partition_of(f"t{n}") == declared.partition
    )
    return NAMES.run_event(tenant, "started")


@pytest.fixture(scope="module")
def fenced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfra]:
    workdir = tmp_path_factory.mktemp("fenced-nats")
    with LocalInfra(mongo=False, use_env=False, secure=NAMES, workdir=workdir) as running:
        yield running


@pytest.fixture
async def durables(fenced: LocalInfra) -> AsyncIterator[dict[tuple[str, str], ConsumerConfig]]:
    """Streams declared by admin, every durable in place; yields them by (stream, name)."""
    admin = await connect(fenced.user_url("admin"))
    js = admin.jetstream()
    await ensure_streams(js, NAMES)
    wanted = {(E, AUDIT): NAMES.directory_events, (C, AUDIT): NAMES.tenant_events}
    for declared in catalog.DURABLES:
        # A work-queue stream takes several durables only if their filters do not overlap.
        name = NAMES.consumer(declared.service, declared.purpose)
        wanted[(NAMES.stream(declared.stream), name)] = first_subject(declared)
    for (stream, name), subject in wanted.items():
        await js.add_consumer(stream, ConsumerConfig(durable_name=name, filter_subject=subject))
    yield {key: (await js.consumer_info(*key)).config for key in wanted}
    await admin.close()


@pytest.mark.parametrize("user", sorted(REFUSED))
async def test_a_service_touches_no_consumer_but_its_own(
    fenced: LocalInfra, durables: dict[tuple[str, str], ConsumerConfig], user: str
) -> None:
    subjects = REFUSED[user]
    errors = await refused(fenced.user_url(user), publish=subjects)
    assert names_refused(errors, subjects) == list(subjects), errors
    admin = await connect(fenced.user_url("admin"))
    try:
        for stream, name in durables:
            await admin.jetstream().consumer_info(stream, name)  # none was deleted
    finally:
        await admin.close()


@pytest.mark.parametrize("user", [*SERVICE_USERS, "reader"])
async def test_only_admin_declares_streams(fenced: LocalInfra, user: str) -> None:
    subjects = (
        "$JS.API.STREAM.CREATE.FENCE_ROGUE",
        f"$JS.API.STREAM.UPDATE.{E}",
        f"$JS.API.STREAM.DELETE.{E}",
        f"$JS.API.STREAM.PURGE.{E}",
    )
    errors = await refused(fenced.user_url(user), publish=subjects)
    assert names_refused(errors, subjects) == list(subjects), errors


@pytest.mark.parametrize("service", sorted({d.service for d in catalog.DURABLES}))
async def test_each_service_creates_pulls_and_acks_its_own_durables(
    fenced: LocalInfra, service: str
) -> None:
    admin = await connect(fenced.user_url("admin"))
    await ensure_streams(admin.jetstream(), NAMES)
    errors: list[str] = []

    async def on_error(err: Exception) -> None:
        errors.append(str(err))

    own = Names(NAMES.prefix, inbox=inbox_prefix(service))  # as its settings make them
    nc = await connect(fenced.user_url(service), error_cb=on_error)
    try:
        for declared in (d for d in catalog.DURABLES if d.service == service):
            name = NAMES.consumer(declared.service, declared.purpose)
            stream = NAMES.stream(declared.stream)
            with contextlib.suppress(NotFoundError):  # the service creates it
                await admin.jetstream().delete_consumer(stream, name)
            subject = first_subject(declared)
            sub = await nc.jetstream().pull_subscribe(
                subject, durable=name, stream=stream, inbox_prefix=own.pull_inbox
            )
            await admin.jetstream().publish(a_message_for(declared), b"{}")
            fetched = await sub.fetch(1, timeout=5)
            await fetched[0].ack_sync(timeout=5)
        await nc.flush()
    finally:
        await nc.close()
        await admin.close()
    assert errors == []


async def test_a_reader_reads_events_through_an_ordered_consumer(fenced: LocalInfra) -> None:
    admin = await connect(fenced.user_url("admin"))
    await ensure_streams(admin.jetstream(), NAMES)
    event = NAMES.directory_event("t-reader", "user", "created")
    await admin.jetstream().publish(event, b'{"id": "e1"}')
    reader = await connect(fenced.user_url("reader"))
    try:
        sub = await reader.jetstream().subscribe(
            event,
            stream=E,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        assert json.loads((await sub.next_msg(timeout=5)).data) == {"id": "e1"}
        # The ephemeral subject cannot make a durable: the server refuses the name.
        request = {"stream_name": E, "config": {"durable_name": "reader-feed"}}
        answer = await reader.request(f"{API}.CREATE.{E}", json.dumps(request).encode(), timeout=5)
        assert "ephemeral" in json.loads(answer.data)["error"]["description"]
        await sub.unsubscribe()
    finally:
        await reader.close()
        await admin.close()
