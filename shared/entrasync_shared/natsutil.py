"""Small NATS helpers used by more than one service: stream/KV declaration, API calls and
pipelined JetStream publishing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    PubAck,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    SubjectTransform,
)
from nats.js.errors import APIError, BucketNotFoundError, NoStreamResponseError, NotFoundError
from nats.js.kv import KeyValue
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, TypeAdapter
from pydantic_core import to_json

from entrasync_shared.kit import tracing
from entrasync_shared.messages import ApiError, Reply
from entrasync_shared.settings import user_in_url
from entrasync_shared.subjects import Names, StreamSpec, inbox_prefix

T = TypeVar("T")


async def connect(url: str, **options: Any) -> NatsClient:
    """`nats.connect(url, **options)` with the inbox prefix of the user `url` names: the server
    lets a user read replies only below its own prefix (`subjects.inbox_prefix`)."""
    return await nats.connect(url, inbox_prefix=inbox_prefix(user_in_url(url)), **options)


def stream_config(spec: StreamSpec) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.WORK_QUEUE
        if spec.retention == "workqueue"
        else RetentionPolicy.LIMITS,
        max_age=spec.max_age.total_seconds() if spec.max_age else None,
        duplicate_window=spec.duplicate_window.total_seconds(),
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        subject_transform=SubjectTransform(src=spec.transform[0], dest=spec.transform[1])
        if spec.transform
        else None,
    )


def _transform(config: StreamConfig) -> tuple[str, str] | None:
    transform = config.subject_transform
    return (transform.src, transform.dest) if transform else None


def _differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    return (
        sorted(current.subjects or []) != sorted(wanted.subjects or [])
        or _transform(current) != _transform(wanted)
        or current.retention != wanted.retention
        or (current.max_age or 0) != (wanted.max_age or 0)
        or (current.duplicate_window or 0) != (wanted.duplicate_window or 0)
    )


async def ensure_streams(js: JetStreamContext, names: Names) -> None:
    """Make every stream match `names.streams()`: create missing ones, update drifted ones.

    Idempotent, and read-only when the streams already match — so a service whose NATS user may
    only read stream info (production, where an admin Job declares the streams) starts fine.
    """
    for spec in names.streams():
        wanted = stream_config(spec)
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            await _declare(js.add_stream(wanted), spec.name)
        else:
            if _differs(info.config, wanted):
                await _declare(js.update_stream(wanted), spec.name)


async def _declare(operation: Awaitable[Any], stream: str) -> None:
    try:
        await operation
    except NatsError as err:
        raise RuntimeError(
            f"stream {stream} is missing or outdated and could not be declared ({err!r}); "
            "run `entrasync-infra declare` with an admin NATS user"
        ) from err


async def ensure_cursor_bucket(js: JetStreamContext, names: Names) -> KeyValue:
    """The delta-cursor KV bucket, created on first use."""
    try:
        return await js.key_value(names.cursor_bucket)
    except BucketNotFoundError:
        return await js.create_key_value(
            KeyValueConfig(bucket=names.cursor_bucket, history=5, storage=StorageType.FILE)
        )


SESSION_BUCKET_MAX_AGE = timedelta(days=30)
"""The longest console session (`ENTRASYNC_CONSOLE_SESSION_HOURS` is at most 720)."""


async def ensure_session_bucket(js: JetStreamContext, names: Names) -> KeyValue:
    """The console's session bucket (key: session id, value: admin name), created on first use.

    A session is live while its key is there: logging out deletes it on every replica at once.
    Keys expire with the longest session, so the bucket never outgrows the sessions in use.
    """
    try:
        return await js.key_value(names.session_bucket)
    except BucketNotFoundError:
        config = KeyValueConfig(
            bucket=names.session_bucket,
            history=1,
            ttl=SESSION_BUCKET_MAX_AGE.total_seconds(),
            storage=StorageType.FILE,
        )
        return await js.create_key_value(config)


async def ensure_subscription_bucket(js: JetStreamContext, names: Names) -> KeyValue:
    """The Graph subscriptions bucket (`SubscriptionRecord` by subscription id), created on
    first use (by a user allowed to: the syncer locally, `admin` in production)."""
    try:
        return await js.key_value(names.subscription_bucket)
    except BucketNotFoundError:
        config = KeyValueConfig(
            bucket=names.subscription_bucket, history=1, storage=StorageType.FILE
        )
        return await js.create_key_value(config)


NOTIFY_REPLAY_WINDOW = timedelta(minutes=10)
"""How long the receiver remembers an accepted notification body (a replay within it is
refused). Graph retries an unanswered delivery with backoff for up to 4 hours, but a retry
follows a failed delivery, which was never accepted, so it is not a replay."""


async def ensure_notify_replay_bucket(js: JetStreamContext, names: Names) -> KeyValue:
    """The receiver's replay bucket (key: digest of an accepted body), created on first use:
    keys age out after `NOTIFY_REPLAY_WINDOW`, and `KeyValue.create` refuses an existing key
    on every replica."""
    try:
        return await js.key_value(names.notify_replay_bucket)
    except BucketNotFoundError:
        config = KeyValueConfig(
            bucket=names.notify_replay_bucket,
            history=1,
            ttl=NOTIFY_REPLAY_WINDOW.total_seconds(),
            storage=StorageType.FILE,
        )
        return await js.create_key_value(config)


class ApiCallError(Exception):
    """An API answered with an error reply, or did not answer at all."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


def ok(result: Any) -> Reply[Any]:
    return Reply(ok=True, result=result)


def failed(code: str, message: str, field: str | None = None) -> Reply[Any]:
    return Reply(ok=False, error=ApiError(code=code, message=message, field=field))


async def subscriptions_in_place(nc: NatsClient) -> None:
    """Return once the server holds every subscription `nc` has made so far.

    `nc.flush()` alone does not promise that: nats-py writes its PING straight to the socket,
    ahead of commands (SUBs) still queued for its flusher task, so the PONG can come back before
    the server has seen them, and a caller started right after gets "no responders" (seen in CI:
    config and scheduler tests). The flusher writes the queue during that first round trip, so
    a second PING follows the SUBs, and its PONG means they are in place.
    """
    await nc.flush()
    await nc.flush()


async def call(
    nc: NatsClient,
    subject: str,
    request: BaseModel | None,
    result_type: type[T],
    *,
    timeout: float = 10.0,
) -> T:
    """Send an API request and return its typed result, raising `ApiCallError` on failure.
    With tracing on, the request is a client span and carries its trace context."""
    payload = request.model_dump_json().encode() if request is not None else b"{}"
    try:
        with tracing.span(f"{subject} request", kind=SpanKind.CLIENT):
            headers = tracing.inject({}) or None
            msg = await nc.request(subject, payload, timeout=timeout, headers=headers)
    except NoRespondersError:
        error = ApiError(code="unavailable", message=f"nobody serves {subject}")
        raise ApiCallError(error) from None
    except NatsTimeout:
        error = ApiError(code="timeout", message=f"{subject} did not answer")
        raise ApiCallError(error) from None
    reply = TypeAdapter(Reply[result_type]).validate_json(msg.data)  # type: ignore[valid-type]
    if not reply.ok:
        raise ApiCallError(reply.error or ApiError(code="unknown", message="error without body"))
    return reply.result  # type: ignore[return-value]


@dataclass(frozen=True)
class Outgoing:
    """One message for `OrderedPublisher`: `msg_id` becomes its `Nats-Msg-Id`."""

    subject: str
    message: BaseModel | bytes
    """The model, or its JSON already made (sent as it is)."""
    msg_id: str


class OrderedPublisher:
    """Publishes lots of messages to JetStream in order, awaiting their PubAcks together.

    One connection delivers in the order it sends, so the stream stores the messages in the
    order given. Up to `window` messages go out before their acks are awaited (one round trip
    for the lot instead of one per message). The bytes and headers are the ones FastStream's
    `broker.publish` writes. nats-py's own `publish_async` is not used: a stream's error reply
    escapes its callback, so the caller would only ever see a timeout.
    """

    def __init__(self, nc: NatsClient, *, timeout: float = 5.0, window: int = 1000) -> None:
        self._nc = nc
        self._timeout = timeout
        self._window = window
        self._prefix: str | None = None
        self._acks: dict[str, asyncio.Future[PubAck]] = {}
        self._sent = 0

    async def publish(self, messages: Sequence[Outgoing], *, stream: str) -> None:
        """Return once `stream` has stored every message; raise the first failure
        (`nats.js.errors.Error`, or `TimeoutError` when acks are missing after the timeout of
        a window). A retry is safe: the stream drops copies with the same `Nats-Msg-Id`.
        With tracing on, one producer span covers them and each carries its context."""
        with tracing.span(
            f"{stream} publish",
            {"messaging.batch.message_count": len(messages)},
            kind=SpanKind.PRODUCER,
        ):
            traced = tracing.inject({})
            for start in range(0, len(messages), self._window):
                await self._publish_window(messages[start : start + self._window], stream, traced)

    async def _publish_window(
        self, messages: Sequence[Outgoing], stream: str, traced: dict[str, str]
    ) -> None:
        prefix = await self._inbox()
        tokens: list[str] = []
        results: list[Any] = []
        try:
            for out in messages:
                self._sent += 1
                token = str(self._sent)
                self._acks[token] = asyncio.get_running_loop().create_future()
                tokens.append(token)
                headers = {
                    "content-type": "application/json",
                    "correlation_id": out.msg_id,
                    "Nats-Msg-Id": out.msg_id,
                    "Nats-Expected-Stream": stream,
                    **traced,
                }
                body = out.message if isinstance(out.message, bytes) else to_json(out.message)
                await self._nc.publish(
                    out.subject, body, reply=f"{prefix}.{token}", headers=headers
                )
            async with asyncio.timeout(self._timeout):
                results = await asyncio.gather(
                    *(self._acks[token] for token in tokens), return_exceptions=True
                )
        finally:
            for token in tokens:
                self._acks.pop(token, None)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _inbox(self) -> str:
        if self._prefix is None:
            prefix = self._nc.new_inbox()
            await self._nc.subscribe(f"{prefix}.*", cb=self._on_ack)
            self._prefix = prefix
        return self._prefix

    async def _on_ack(self, msg: Msg) -> None:
        future = self._acks.get(msg.subject.rsplit(".", 1)[-1])
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get("Status") == "503":
            future.set_exception(NoStreamResponseError())
            return
        try:
            reply = json.loads(msg.data)
            if "error" in reply:
                APIError.from_error(reply["error"])  # raises the matching APIError subclass
            future.set_result(PubAck.from_response(reply))
        except APIError as error:
            future.set_exception(error)
        except (ValueError, TypeError, KeyError) as error:
            future.set_exception(APIError(description=f"unreadable PubAck: {error!r}"))
