"""Subscription records in the `subscriptions` KV bucket (key: the Graph subscription id).

The key is what the receiver looks a notification up by, so a tenant's records are found by
reading the bucket through (one watch, no history): fine for the bucket's size (two records per
near-real-time tenant), and only done per subscription command.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import nats.errors
from entrasync_shared.messages import SubscriptionRecord
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from pydantic import ValidationError

from entrasync_syncer.ports import InfrastructureError

log = logging.getLogger("entrasync.syncer.subscriptions")

_NATS_FAILURES = (nats.errors.Error, TimeoutError)


class KvSubscriptionStore:
    """Implements `SubscriptionStore`; the bucket is opened on first use."""

    def __init__(self, open_bucket: Callable[[], Awaitable[KeyValue]]) -> None:
        self._open_bucket = open_bucket
        self._bucket: KeyValue | None = None

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self._open_bucket()
        return self._bucket

    async def of_tenant(self, tenant_id: str) -> list[SubscriptionRecord]:
        try:
            watcher = await (await self._kv()).watchall(ignore_deletes=True)
            found: list[SubscriptionRecord] = []
            try:
                async for entry in watcher:
                    if entry is None:
                        break
                    if entry.operation in (KV_DEL, KV_PURGE):
                        continue
                    record = _record(entry.value)
                    if record is not None and record.tenant_id == tenant_id:
                        found.append(record)
            finally:
                await watcher.stop()
        except _NATS_FAILURES as exc:
            raise InfrastructureError(f"reading subscription records: {exc!r}") from exc
        return found

    async def put(self, record: SubscriptionRecord) -> None:
        try:
            await (await self._kv()).put(record.subscription_id, record.model_dump_json().encode())
        except _NATS_FAILURES as exc:
            raise InfrastructureError(f"storing subscription {record.subscription_id}") from exc

    async def drop(self, subscription_id: str) -> None:
        try:
            await (await self._kv()).delete(subscription_id)
        except KeyNotFoundError:
            return
        except _NATS_FAILURES as exc:
            raise InfrastructureError(f"dropping subscription {subscription_id}") from exc


def _record(value: bytes | None) -> SubscriptionRecord | None:
    try:
        return SubscriptionRecord.model_validate_json(value or b"")
    except ValidationError:
        log.warning("the subscriptions bucket holds a value that is not a record; skipping it")
        return None
