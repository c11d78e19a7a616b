"""Helpers for the config service's integration tests (plain module, not a conftest)."""

from __future__ import annotations

import json
import time
from typing import Any

import nats
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from pymongo.asynchronous.database import AsyncDatabase

LAB_CA = "-----BEGIN CERTIFICATE-----\nMIIBlabcafortests\n-----END CERTIFICATE-----\n"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
COLLECTIONS = ("profiles", "tenants", "tenants_deleted", "outbox", "directories")


async def request(
    nc: NatsClient, subject: str, payload: Any, timeout: float = 10
) -> dict[str, Any]:
    """Send raw bytes or a JSON-able payload and return the decoded reply envelope."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    msg = await nc.request(subject, data, timeout=timeout)
    reply: dict[str, Any] = json.loads(msg.data)
    return reply


async def api(
    nc: NatsClient, names: Names, verb: str, payload: Any, timeout: float = 10
) -> dict[str, Any]:
    return await request(nc, names.api("config", verb), payload, timeout)


async def result(nc: NatsClient, names: Names, verb: str, payload: Any) -> Any:
    """The `result` of a call that must succeed."""
    reply = await api(nc, names, verb, payload)
    assert reply["ok"], reply
    return reply["result"]


async def stream_messages(nc: NatsClient, stream: str, subject: str) -> list[RawStreamMsg]:
    """Every message of `stream` on `subject` (wildcards allowed), oldest first."""
    js, seq = nc.jetstream(), 1
    found: list[RawStreamMsg] = []
    while True:
        try:
            msg = await js.get_msg(stream, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return found
        found.append(msg)
        seq = (msg.seq or seq) + 1


async def events(nc: NatsClient, names: Names, subject: str) -> list[dict[str, Any]]:
    """Decoded config events on `subject`, oldest first."""
    return [
        json.loads(m.data or b"") for m in await stream_messages(nc, names.config_stream, subject)
    ]


async def consumer_caught_up(nc: NatsClient, stream: str, consumer: str) -> bool:
    """True when the durable consumer has acknowledged everything in the stream."""
    js = nc.jetstream()
    info, consumer_info = await js.stream_info(stream), await js.consumer_info(stream, consumer)
    floor = consumer_info.ack_floor.stream_seq if consumer_info.ack_floor else 0
    return (floor or 0) >= (info.state.last_seq or 0) and not consumer_info.num_ack_pending


async def snapshot(db: AsyncDatabase[Any], nc: NatsClient, names: Names) -> dict[str, Any]:
    """Everything config stores or publishes, to prove a refused request changed nothing."""
    state: dict[str, Any] = {
        name: await db[name].find().sort("_id").to_list() for name in COLLECTIONS
    }
    info = await nc.jetstream().stream_info(names.config_stream)
    state["config_stream_last_seq"] = info.state.last_seq
    return state


async def gather_replies(nc: NatsClient, subject: str, wait: float = 0.5) -> list[dict[str, Any]]:
    """Every answer to one request within `wait` seconds (for `$SRV` discovery)."""
    inbox = nc.new_inbox()
    replies: list[dict[str, Any]] = []
    sub = await nc.subscribe(inbox)
    await nc.publish(subject, b"", reply=inbox)
    deadline = time.monotonic() + wait
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                msg = await sub.next_msg(timeout=remaining)
            except nats.errors.TimeoutError:
                break
            replies.append(json.loads(msg.data))
    finally:
        await sub.unsubscribe()
    return replies
