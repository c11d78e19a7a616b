"""The subscriptions bucket (read, cached briefly) and the replay bucket, over NATS KV."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

import nats.errors
from entrasync_shared.messages import SubscriptionRecord
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from entrasync_receiver.ports import Unavailable

log = logging.getLogger("entrasync.receiver.kv")

Bucket = Callable[[], Awaitable[KeyValue]]
_FAILURES = (nats.errors.Error, TimeoutError, OSError)


class KvSubscriptions:
    """Implements `Subscriptions`: records by id from the `subscriptions` bucket; a found one
    is reused for `cache_seconds`, a missing one is read again every time (the syncer may
    have written it since)."""

    def __init__(
        self,
        bucket: Bucket,
        cache_seconds: float,
        *,
        timeout: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        max_cached: int = 10_000,
    ) -> None:
        self._bucket, self._ttl, self._timeout = bucket, cache_seconds, timeout
        self._monotonic, self._max = monotonic, max_cached
        self._cache: dict[str, tuple[float, SubscriptionRecord]] = {}

    async def records(self, ids: Iterable[str]) -> Mapping[str, SubscriptionRecord | None]:
        now = self._monotonic()
        found: dict[str, SubscriptionRecord | None] = {}
        missing: list[str] = []
        for key in dict.fromkeys(ids):
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < self._ttl:
                found[key] = cached[1]
            else:
                missing.append(key)
        if missing:
            try:
                bucket = await asyncio.wait_for(self._bucket(), self._timeout)
                read = await asyncio.wait_for(
                    asyncio.gather(*(self._read(bucket, key) for key in missing)), self._timeout
                )
            except _FAILURES as err:
                raise Unavailable(f"subscriptions bucket: {err!r}") from err
            for key, record in zip(missing, read, strict=True):
                found[key] = record
                self._remember(key, record, now)
        return found

    def _remember(self, key: str, record: SubscriptionRecord | None, now: float) -> None:
        if record is None:
            self._cache.pop(key, None)
            return
        if len(self._cache) >= self._max:
            self._cache.clear()  # crude, and rare: more live subscriptions than the bound
        self._cache[key] = (now, record)

    @staticmethod
    async def _read(bucket: KeyValue, key: str) -> SubscriptionRecord | None:
        if not _valid_key(key):
            return None  # a subscription id Graph never makes: no such record
        try:
            entry = await bucket.get(key)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        try:
            return SubscriptionRecord.model_validate_json(entry.value or b"")
        except ValidationError:
            log.error("subscription record %s is unreadable; its notifications are refused", key)
            return None


def _valid_key(key: str) -> bool:
    """A NATS KV key (Graph's subscription ids are GUIDs)."""
    return 0 < len(key) <= 128 and all(c.isalnum() or c in "-_=" for c in key)


class KvReplayGuard:
    """Implements `ReplayGuard` with `KeyValue.create`, which fails when the key exists: the
    bucket's keys expire after its max age, so a body is refused as a replay within that."""

    def __init__(self, bucket: Bucket, *, timeout: float = 1.0) -> None:
        self._bucket, self._timeout = bucket, timeout

    async def first(self, digest: str) -> bool:
        try:
            bucket = await asyncio.wait_for(self._bucket(), self._timeout)
            await asyncio.wait_for(bucket.create(digest, b""), self._timeout)
        except KeyWrongLastSequenceError:
            return False
        except _FAILURES as err:
            raise Unavailable(f"replay bucket: {err!r}") from err
        return True

    async def forget(self, digest: str) -> None:
        try:
            bucket = await asyncio.wait_for(self._bucket(), self._timeout)
            await asyncio.wait_for(bucket.purge(digest), self._timeout)
        except _FAILURES as err:
            raise Unavailable(f"replay bucket: {err!r}") from err
