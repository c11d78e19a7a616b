"""The receiver as Graph (and a forger) meet it: a real nats-server with the generated
least-privilege users (the receiver runs as its own `receiver` user), the receiver app built by
its `build_app`, real HTTP on a local port. Each POST's status, the counters its /metrics
shows, and what reached the notify stream (only accepted POSTs publish)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
from entrasync_devtools.infra import LocalInfra, free_port
from entrasync_receiver.main import build_app
from entrasync_receiver.settings import ReceiverSettings
from entrasync_shared.admin import declare
from entrasync_shared.messages import ChangeNotified
from entrasync_shared.natsutil import connect, subscriptions_in_place
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import StreamConfig
from nats.js.kv import KeyValue
from receiver_helpers import Subscription, body, counters, iso
from support.certificates import certificate_pair
from support.polling import eventually

pytestmark = pytest.mark.timeout(120)
NAMES = Names("rcv")
REQUESTS = "entrasync_receiver_requests_total"


@pytest.fixture(scope="module")
def fenced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfra]:
    workdir = tmp_path_factory.mktemp("receiver-nats")
    with LocalInfra(mongo=False, use_env=False, secure=NAMES, workdir=workdir) as running:
        yield running


@dataclass
class Receiver:
    url: str
    metrics_url: str
    subscriptions: KeyValue
    admin: NatsClient
    published: list[ChangeNotified]

    async def post(self, route: str, content: bytes, **options: object) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(f"{self.url}/{route}", content=content, **options)  # type: ignore[arg-type]

    async def count(self, route: str, outcome: str) -> float:
        # Labels in name order: outcome, route.
        return (await counters(self.metrics_url)).get((REQUESTS, outcome, route), 0.0)

    def of(self, tenant_id: str) -> list[ChangeNotified]:
        return [m for m in self.published if m.tenant_id == tenant_id]


@pytest.fixture
async def receiver(fenced: LocalInfra, tenant: str) -> AsyncIterator[Receiver]:
    admin = await connect(fenced.user_url("admin"))
    await declare(fenced.user_url("admin"), NAMES)
    published: list[ChangeNotified] = []

    async def collect(msg: Msg) -> None:
        published.append(ChangeNotified.model_validate_json(msg.data))

    await admin.subscribe(NAMES.notifications_all, cb=collect)
    await subscriptions_in_place(admin)
    port, health = free_port(), free_port()
    settings = ReceiverSettings(
        nats_url=fenced.user_url("receiver"),
        prefix=NAMES.prefix,
        host="127.0.0.1",
        port=port,
        health_port=health,
        rate_per_second=0.01,
        rate_burst=3,
    )
    async with build_app(settings):
        yield Receiver(
            url=f"http://127.0.0.1:{port}",
            metrics_url=f"http://127.0.0.1:{health}/metrics",
            subscriptions=await admin.jetstream().key_value(NAMES.subscription_bucket),
            admin=admin,
            published=published,
        )
    await admin.close()


@pytest.fixture
def tenant(request: pytest.FixtureRequest) -> str:
    return "tn-" + request.node.name.removeprefix("test_")[:40]


async def settled(receiver: Receiver) -> None:
    """Every message the receiver published has reached the test's subscription."""
    await subscriptions_in_place(receiver.admin)
    await asyncio.sleep(0.2)


@pytest.mark.parametrize("route", ["notifications", "lifecycle"])
async def test_the_validation_handshake_echoes_the_decoded_token_as_plain_text(
    receiver: Receiver, route: str
) -> None:
    token = "Validation: Testing client application reachability Request-Id: 1 & <b>x</b>+é"
    before = await receiver.count(route, "validation")
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{receiver.url}/{route}?validationToken={quote(token, safe='')}",
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == token
    assert await receiver.count(route, "validation") == before + 1


async def test_a_valid_batch_is_accepted_and_published_once_per_tenant_and_type(
    receiver: Receiver, tenant: str
) -> None:
    users = await Subscription(tenant, "user").write(receiver.subscriptions)
    groups = await Subscription(tenant, "group").write(receiver.subscriptions)
    before = await receiver.count("notifications", "accepted")
    started = datetime.now(UTC)
    response = await receiver.post("notifications", body(users.item(), users.item(), groups.item()))
    assert response.status_code == 202
    found = await eventually(lambda: _of(receiver, tenant), accept=lambda m: len(m) == 2)
    by_type = {m.object_type: m for m in found}
    assert by_type["user"].count == 2 and by_type["group"].count == 1
    assert by_type["user"].subscription_id == users.id
    assert {m.kind for m in found} == {"changed"}
    assert all(m.received_at >= started - timedelta(seconds=1) for m in found)
    assert await receiver.count("notifications", "accepted") == before + 1


async def test_a_replayed_body_is_refused_and_publishes_nothing_more(
    receiver: Receiver, tenant: str
) -> None:
    users = await Subscription(tenant).write(receiver.subscriptions)
    payload = body(users.item())
    assert (await receiver.post("notifications", payload)).status_code == 202
    await eventually(lambda: _of(receiver, tenant), accept=lambda m: len(m) == 1)
    before = await receiver.count("notifications", "replayed")
    assert (await receiver.post("notifications", payload)).status_code == 409
    await settled(receiver)
    assert len(receiver.of(tenant)) == 1
    assert await receiver.count("notifications", "replayed") == before + 1


async def test_a_forged_client_state_or_tenant_refuses_the_whole_post(
    receiver: Receiver, tenant: str
) -> None:
    users = await Subscription(tenant).write(receiver.subscriptions)
    before = await receiver.count("notifications", "forged")
    forged_state = body(users.item(), users.item(clientState="guessed"))
    forged_tenant = body(users.item(tenantId="00000000-0000-0000-0000-000000000000"))
    no_state = body(users.item(clientState=None))
    for payload in (forged_state, forged_tenant, no_state):
        assert (await receiver.post("notifications", payload)).status_code == 403
    await settled(receiver)
    assert receiver.of(tenant) == []
    assert await receiver.count("notifications", "forged") == before + 3


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"value": []}', b'{"value": [{"clientState": "x"}]}', b'{"value": [1]}'],
)
async def test_a_malformed_body_is_a_bad_request(receiver: Receiver, payload: bytes) -> None:
    before = await receiver.count("notifications", "malformed")
    assert (await receiver.post("notifications", payload)).status_code == 400
    assert await receiver.count("notifications", "malformed") == before + 1


async def test_an_oversized_body_is_refused_declared_or_streamed(
    receiver: Receiver, tenant: str
) -> None:
    users = await Subscription(tenant).write(receiver.subscriptions)
    padding = "x" * (1024 * 1024)
    oversized = body(users.item(resource=padding))
    before = await receiver.count("notifications", "too_large")
    assert (await receiver.post("notifications", oversized)).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read until the limit
        for start in range(0, len(oversized), 64 * 1024):
            yield oversized[start : start + 64 * 1024]

    async with httpx.AsyncClient(timeout=10) as client:
        streamed = await client.post(f"{receiver.url}/notifications", content=chunks())
    assert streamed.status_code == 413
    await settled(receiver)
    assert receiver.of(tenant) == []
    assert await receiver.count("notifications", "too_large") == before + 2


async def test_unknown_or_expired_subscriptions_alone_are_not_found(
    receiver: Receiver, tenant: str
) -> None:
    stranger = Subscription(tenant)  # never recorded
    users = await Subscription(tenant).write(receiver.subscriptions)
    past = iso(datetime.now(UTC) - timedelta(minutes=1))
    assert (await receiver.post("notifications", body(stranger.item()))).status_code == 404
    expired = body(users.item(subscriptionExpirationDateTime=past))
    assert (await receiver.post("notifications", expired)).status_code == 404
    await settled(receiver)
    assert receiver.of(tenant) == []
    # Alongside a live subscription's, they are left out and the rest is accepted.
    mixed = body(stranger.item(), users.item())
    assert (await receiver.post("notifications", mixed)).status_code == 202
    [message] = await eventually(lambda: _of(receiver, tenant), accept=lambda m: len(m) == 1)
    assert message.count == 1


async def test_a_record_written_after_a_miss_is_found_at_once(
    receiver: Receiver, tenant: str
) -> None:
    users = Subscription(tenant)
    assert (await receiver.post("notifications", body(users.item()))).status_code == 404
    await users.write(receiver.subscriptions)  # the syncer recorded it meanwhile
    assert (await receiver.post("notifications", body(users.item()))).status_code == 202


@pytest.mark.parametrize("event", ["reauthorizationRequired", "subscriptionRemoved", "missed"])
async def test_lifecycle_events_are_published_with_their_kind(
    receiver: Receiver, tenant: str, event: str
) -> None:
    groups = await Subscription(tenant, "group").write(receiver.subscriptions)
    assert (await receiver.post("lifecycle", body(groups.lifecycle(event)))).status_code == 202
    [message] = await eventually(lambda: _of(receiver, tenant), accept=lambda m: len(m) == 1)
    assert (message.kind, message.object_type, message.subscription_id) == (
        event,
        "group",
        groups.id,
    )


async def test_a_flood_from_one_tenant_is_rate_limited_with_retry_after(
    receiver: Receiver, tenant: str
) -> None:
    users = await Subscription(tenant).write(receiver.subscriptions)
    calm = await Subscription(f"{tenant}-calm").write(receiver.subscriptions)
    before = await receiver.count("notifications", "rate_limited")
    answers = [
        (await receiver.post("notifications", body(users.item()))).status_code for _ in range(3)
    ]
    assert answers == [202, 202, 202]  # the burst
    flooded = await receiver.post("notifications", body(users.item()))
    assert flooded.status_code == 429
    assert int(flooded.headers["retry-after"]) >= 1
    assert (await receiver.post("notifications", body(calm.item()))).status_code == 202
    await eventually(lambda: _of(receiver, tenant), accept=lambda m: len(m) == 3)
    assert await receiver.count("notifications", "rate_limited") == before + 1


async def test_without_jetstream_the_post_is_unavailable_and_its_retry_is_no_replay(
    receiver: Receiver, fenced: LocalInfra, tenant: str
) -> None:
    users = await Subscription(tenant).write(receiver.subscriptions)
    payload = body(users.item())
    js = receiver.admin.jetstream()
    config: StreamConfig = (await js.stream_info(NAMES.notify_stream)).config
    await js.delete_stream(NAMES.notify_stream)
    try:
        before = await receiver.count("notifications", "unavailable")
        assert (await receiver.post("notifications", payload)).status_code == 503
        assert await receiver.count("notifications", "unavailable") == before + 1
    finally:
        await js.add_stream(config)
    assert (await receiver.post("notifications", payload)).status_code == 202  # Graph's retry
    # (The unconfirmed first attempt reached core NATS subscribers, not the stream.)
    state = (await js.stream_info(NAMES.notify_stream)).state
    assert state.messages == 1


async def test_only_post_is_served_and_nothing_else(receiver: Receiver) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{receiver.url}/notifications")).status_code == 405
        assert (await client.get(f"{receiver.url}/metrics")).status_code == 404
        assert (await client.post(f"{receiver.url}/", content=b"{}")).status_code == 404


async def _of(receiver: Receiver, tenant: str) -> list[ChangeNotified]:
    return receiver.of(tenant)


@pytest.mark.parametrize("user", ["receiver", "scheduler", "syncer"])
async def test_the_subscriptions_bucket_is_watched_by_all_and_written_by_the_syncer_alone(
    receiver: Receiver, fenced: LocalInfra, tenant: str, user: str
) -> None:
    errors: list[Exception] = []

    async def on_error(err: Exception) -> None:
        errors.append(err)

    client = await connect(fenced.user_url(user), error_cb=on_error)
    try:
        bucket = await client.jetstream().key_value(NAMES.subscription_bucket)
        watcher = await bucket.watchall()  # nats-py reads the ordered consumer's info here
        written = await Subscription(f"{tenant}-{user}").write(receiver.subscriptions)
        update = await watcher.updates(timeout=5)
        while update is None or update.key != written.id:
            update = await watcher.updates(timeout=5)
        await watcher.stop()
        assert (await bucket.get(written.id)).value == update.value
        assert written.id in await bucket.keys()  # a watch too
        if user == "syncer":
            await bucket.put(written.id, written.record().model_dump_json().encode())
        else:
            with pytest.raises(Exception, match="timeout|Timeout|permission"):
                await bucket.put(written.id, b"{}")
    finally:
        await client.close()
    if user == "syncer":
        assert errors == []
    else:
        assert errors and all("permissions violation" in str(e) for e in errors), errors
        assert all("$kv." in str(e).lower() for e in errors), errors


async def test_with_a_certificate_it_serves_https(
    fenced: LocalInfra, tmp_path_factory: pytest.TempPathFactory
) -> None:
    key_pem, cert_pem = certificate_pair()
    folder = tmp_path_factory.mktemp("receiver-tls")
    (folder / "tls.key").write_text(key_pem)
    (folder / "tls.crt").write_text(cert_pem)
    await declare(fenced.user_url("admin"), NAMES)
    port = free_port()
    settings = ReceiverSettings(
        nats_url=fenced.user_url("receiver"),
        prefix=NAMES.prefix,
        host="127.0.0.1",
        port=port,
        tls_cert_file=folder / "tls.crt",
        tls_key_file=folder / "tls.key",
    )
    async with build_app(settings):
        # The test certificate names no host: the point is that TLS is spoken, not whom to trust.
        async with httpx.AsyncClient(verify=False, timeout=10) as client:
            answer = await client.post(f"https://127.0.0.1:{port}/notifications?validationToken=t")
            assert (answer.status_code, answer.text) == (200, "t")
            with pytest.raises(httpx.HTTPError):
                await client.post(f"http://127.0.0.1:{port}/notifications?validationToken=t")
