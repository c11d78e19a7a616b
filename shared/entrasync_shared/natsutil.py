"""Small NATS helpers used by more than one service: stream/KV declaration and API calls."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, TypeAdapter

from entrasync_shared.messages import ApiError, Reply
from entrasync_shared.subjects import Names, StreamSpec

T = TypeVar("T")


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
    )


def _differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    return (
        sorted(current.subjects or []) != sorted(wanted.subjects or [])
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


class ApiCallError(Exception):
    """An API answered with an error reply, or did not answer at all."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


def ok(result: Any) -> Reply[Any]:
    return Reply(ok=True, result=result)


def failed(code: str, message: str, field: str | None = None) -> Reply[Any]:
    return Reply(ok=False, error=ApiError(code=code, message=message, field=field))


async def call(
    nc: NatsClient,
    subject: str,
    request: BaseModel | None,
    result_type: type[T] | Any,
    *,
    timeout: float = 10.0,
) -> T:
    """Send an API request and return its typed result, raising `ApiCallError` on failure."""
    payload = request.model_dump_json().encode() if request is not None else b"{}"
    try:
        msg = await nc.request(subject, payload, timeout=timeout)
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
