"""`OrderedPublisher` against a real JetStream: order, headers, dedupe, failures."""

from __future__ import annotations

import json

import pytest
from entrasync_shared.messages import TenantRef
from entrasync_shared.natsutil import OrderedPublisher, Outgoing
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from nats.js.errors import APIError, NoStreamResponseError


def _messages(names: Names, count: int) -> list[Outgoing]:
    subject = names.sync_recorded("t1")
    return [Outgoing(subject, TenantRef(tenant_id=f"t{i:05d}"), f"m-{i}") for i in range(count)]


async def _stored(nc: NatsClient, names: Names) -> list[tuple[str, dict[str, str]]]:
    js = nc.jetstream()
    info = await js.stream_info(names.events_stream)
    found: list[tuple[str, dict[str, str]]] = []
    if not info.state.messages:
        return found
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(names.events_stream, seq)
        found.append((json.loads(msg.data)["tenant_id"], dict(msg.headers or {})))
    return found


async def test_messages_are_stored_in_order_across_windows_with_faststream_headers(
    nc: NatsClient, names: Names
) -> None:
    messages = _messages(names, 250)
    await OrderedPublisher(nc, window=100).publish(messages, stream=names.events_stream)
    stored = await _stored(nc, names)
    assert [tenant for tenant, _ in stored] == [f"t{i:05d}" for i in range(250)]
    headers = stored[7][1]
    assert headers["Nats-Msg-Id"] == "m-7"
    assert headers["correlation_id"] == "m-7"
    assert headers["content-type"] == "application/json"


async def test_a_republished_lot_is_dropped_by_the_duplicate_window(
    nc: NatsClient, names: Names
) -> None:
    messages = _messages(names, 30)
    publisher = OrderedPublisher(nc)
    await publisher.publish(messages[:20], stream=names.events_stream)
    await publisher.publish(messages, stream=names.events_stream)
    assert len(await _stored(nc, names)) == 30


async def test_a_refused_message_raises_and_nothing_is_left_pending(
    nc: NatsClient, names: Names
) -> None:
    publisher = OrderedPublisher(nc, timeout=2.0)
    with pytest.raises(APIError, match="expected stream does not match"):
        await publisher.publish(_messages(names, 5), stream=names.pipeline_stream)
    assert publisher._acks == {}
    await publisher.publish([], stream=names.events_stream)
    assert await _stored(nc, names) == []


async def test_a_subject_no_stream_takes_fails_at_once(nc: NatsClient, names: Names) -> None:
    publisher = OrderedPublisher(nc, timeout=2.0)
    lost = [Outgoing("nobody.listens.here", TenantRef(tenant_id="t"), "m1")]
    with pytest.raises(NoStreamResponseError):
        await publisher.publish(lost, stream=names.events_stream)
