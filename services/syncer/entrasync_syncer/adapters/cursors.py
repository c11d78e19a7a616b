"""Delta cursors in the JetStream KV bucket: key `<tenant>.<type>`, JSON value."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import nats.errors
from entrasync_shared.messages import utcnow
from entrasync_shared.subjects import ObjectType, cursor_key
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from entrasync_syncer.domain import Cursor
from entrasync_syncer.ports import InfrastructureError

log = logging.getLogger("entrasync.syncer.cursors")

_NATS_FAILURES = (nats.errors.Error, TimeoutError)


def encode_cursor(delta_link: str, at: datetime, scope: str = "") -> bytes:
    body = {"delta_link": delta_link, "at": at.isoformat()}
    if scope:
        body["scope"] = scope
    return json.dumps(body).encode()


def decode_cursor(value: bytes | None) -> Cursor | None:
    """The stored cursor, or None when the value is not one of ours."""
    try:
        body = json.loads(value or b"")
        link = body.get("delta_link")
    except (ValueError, AttributeError):
        return None
    if not isinstance(link, str) or not link:
        return None
    try:
        at: datetime | None = datetime.fromisoformat(str(body.get("at")))
    except ValueError:
        at = None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    scope = body.get("scope")
    return Cursor(link, at, scope if isinstance(scope, str) else "")


class KvCursorStore:
    """Implements `CursorStore`; the bucket is opened on first use (after NATS connects)."""

    def __init__(self, open_bucket: Callable[[], Awaitable[KeyValue]]) -> None:
        self._open_bucket = open_bucket
        self._bucket: KeyValue | None = None

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self._open_bucket()
        return self._bucket

    async def get(self, tenant_id: str, object_type: ObjectType) -> Cursor | None:
        key = cursor_key(tenant_id, object_type)
        try:
            entry = await (await self._kv()).get(key)
        except KeyNotFoundError:
            return None
        except _NATS_FAILURES as exc:
            raise InfrastructureError(f"reading cursor {key}: {exc!r}") from exc
        cursor = decode_cursor(entry.value)
        if cursor is None:
            log.warning("cursor %s holds no usable deltaLink; ignoring it", key)
        return cursor

    async def put(
        self, tenant_id: str, object_type: ObjectType, delta_link: str, scope: str = ""
    ) -> None:
        key = cursor_key(tenant_id, object_type)
        try:
            await (await self._kv()).put(key, encode_cursor(delta_link, utcnow(), scope))
        except _NATS_FAILURES as exc:
            raise InfrastructureError(f"storing cursor {key}: {exc!r}") from exc

    async def discard(self, tenant_id: str, object_type: ObjectType) -> None:
        key = cursor_key(tenant_id, object_type)
        try:
            await (await self._kv()).delete(key)
        except KeyNotFoundError:
            return
        except _NATS_FAILURES as exc:
            raise InfrastructureError(f"discarding cursor {key}: {exc!r}") from exc
