"""Reading stored public events from JetStream (`ENTRASYNC_EVENTS`), newest matching ones first.

A read costs what it returns, not what the stream holds: an ephemeral push consumer filters the
subjects on the server, and its creation answers how many matching messages lie ahead
(`num_pending`). When more than `limit` match since the start time, a binary search over stream
sequences (consumers created and left unread, each one round trip) finds the sequence from which
only the newest `limit` remain, and only those are delivered. Consumers take no acks and are
removed by the server once nobody listens (`inactive_threshold`), since the console's NATS user
may create them but not delete them. Failures are `ApiCallError`s (`unavailable`, `timeout`),
as the services' are.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import nats.errors
from entrasync_shared.messages import ApiError
from entrasync_shared.natsutil import ApiCallError
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from entrasync_console.ports import StoredEvents

FORGET_AFTER = 5.0
"""Seconds after which the server removes a consumer nobody listens to (probes at once)."""
WAIT = 10.0
"""Seconds to wait for the next message the server said is there."""


class JetStreamEvents:
    """Implements `ports.EventLog` on one stream."""

    def __init__(self, nc: NatsClient, stream: str) -> None:
        self._nc = nc
        self._stream = stream

    async def newest(self, subjects: tuple[str, ...], since: datetime, limit: int) -> StoredEvents:
        try:
            return await self._newest(subjects, since, limit)
        except TimeoutError:
            raise _failed("timeout", "the events stream did not answer in time") from None
        except nats.errors.Error as error:
            raise _failed("unavailable", f"the events stream cannot be read: {error}") from None

    async def _newest(self, subjects: tuple[str, ...], since: datetime, limit: int) -> StoredEvents:
        if await self._pending(_config(subjects, self._nc.new_inbox(), since=since)) <= limit:
            return StoredEvents(await self._read(subjects, since=since), complete=True)
        start = await self._start_of_newest(subjects, limit)
        return StoredEvents(await self._read(subjects, start=start), complete=False)

    async def _start_of_newest(self, subjects: tuple[str, ...], limit: int) -> int:
        """The smallest stream sequence from which at most `limit` messages match."""
        info = await self._nc.jetstream().stream_info(self._stream)
        low, high = info.state.first_seq, info.state.last_seq + 1
        while low < high:
            middle = (low + high) // 2
            probe = _config(subjects, self._nc.new_inbox(), start=middle)
            if await self._pending(probe) <= limit:
                high = middle
            else:
                low = middle + 1
        return low

    async def _pending(self, config: ConsumerConfig) -> int:
        """How many messages a consumer nobody listens to would deliver (it is then forgotten)."""
        created = await self._nc.jetstream().add_consumer(self._stream, config=config)
        return created.num_pending or 0

    async def _read(
        self, subjects: tuple[str, ...], *, since: datetime | None = None, start: int | None = None
    ) -> list[dict[str, Any]]:
        """Every matching message from `since` or `start` on, oldest first, as parsed JSON."""
        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox)  # listening before the consumer starts sending
        try:
            config = _config(subjects, inbox, since=since, start=start)
            created = await self._nc.jetstream().add_consumer(self._stream, config=config)
            found = []
            for _ in range(created.num_pending or 0):
                try:
                    msg = await sub.next_msg(timeout=WAIT)
                except TimeoutError:
                    break  # expired meanwhile: what came is what there is
                found.append(_parsed(msg))
            return [event for event in found if event is not None]
        finally:
            await sub.unsubscribe()


def _config(
    subjects: tuple[str, ...],
    inbox: str,
    *,
    since: datetime | None = None,
    start: int | None = None,
) -> ConsumerConfig:
    return ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.BY_START_SEQUENCE,
        opt_start_time=since,
        opt_start_seq=start,
        ack_policy=AckPolicy.NONE,
        filter_subjects=list(subjects),
        deliver_subject=inbox,
        inactive_threshold=FORGET_AFTER,
        mem_storage=True,
        num_replicas=1,
    )


def _failed(code: str, message: str) -> ApiCallError:
    return ApiCallError(ApiError(code=code, message=message))


def _parsed(msg: Msg) -> dict[str, Any] | None:
    try:
        event = json.loads(msg.data)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None
