"""Helpers for the config service's integration tests (plain module, not a conftest)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from nats.aio.client import Client as NatsClient
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

T = TypeVar("T")

LAB_CA = "-----BEGIN CERTIFICATE-----\nMIIBlabcafortests\n-----END CERTIFICATE-----\n"


async def request(nc: NatsClient, subject: str, payload: Any) -> dict[str, Any]:
    """Send raw bytes or a JSON-able payload and return the decoded reply envelope."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    msg = await nc.request(subject, data, timeout=10)
    reply: dict[str, Any] = json.loads(msg.data)
    return reply


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], within: float = 10.0
) -> T:
    """Poll `probe` until `accept(value)`; fail with the last value after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {value!r}")
        await asyncio.sleep(0.05)


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


async def consumer_caught_up(nc: NatsClient, stream: str, consumer: str) -> bool:
    """True when the durable consumer has acknowledged everything in the stream."""
    js = nc.jetstream()
    info, consumer_info = await js.stream_info(stream), await js.consumer_info(stream, consumer)
    floor = consumer_info.ack_floor.stream_seq if consumer_info.ack_floor else 0
    return (floor or 0) >= (info.state.last_seq or 0) and not consumer_info.num_ack_pending
