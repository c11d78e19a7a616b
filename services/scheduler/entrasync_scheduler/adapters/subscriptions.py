"""The syncer's Graph subscription records, watched in the `subscriptions` KV bucket.

The scheduler may only get and watch this bucket. Each (re)start of the watch loads the whole
bucket first (`subscriptions_loaded`), then follows changes one by one; a watch that ends or
fails is started again after a pause, and a bucket that does not exist yet is waited for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

import nats.errors
from entrasync_shared.messages import SubscriptionRecord
from entrasync_shared.subjects import Names
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from pydantic import ValidationError

log = logging.getLogger("entrasync.scheduler.subscriptions")

RETRY_SECONDS = 2.0


class SubscriptionListener(Protocol):
    def subscriptions_loaded(self, records: list[SubscriptionRecord]) -> None: ...

    def subscription_stored(self, record: SubscriptionRecord) -> None: ...

    def subscription_dropped(self, subscription_id: str) -> None: ...


async def watch_subscriptions(
    jetstream: Callable[[], JetStreamContext], names: Names, listener: SubscriptionListener
) -> None:
    """Follow the bucket into `listener` until cancelled."""
    while True:
        try:
            kv = await jetstream().key_value(names.subscription_bucket)
            await _follow(kv, listener)
        except asyncio.CancelledError:
            raise
        except BucketNotFoundError:
            log.debug("no subscriptions bucket yet; looking again in %.0f s", RETRY_SECONDS)
        except (nats.errors.Error, TimeoutError) as err:
            log.warning("watching the subscriptions bucket failed (%r); starting again", err)
        await asyncio.sleep(RETRY_SECONDS)


async def _follow(kv: KeyValue, listener: SubscriptionListener) -> None:
    watcher = await kv.watchall()
    loading: dict[str, SubscriptionRecord] | None = {}
    try:
        async for entry in watcher:
            if entry is None:  # the end of what the bucket held when the watch started
                if loading is not None:
                    listener.subscriptions_loaded(list(loading.values()))
                    loading = None
                continue
            record = None if entry.operation in (KV_DEL, KV_PURGE) else _record(entry.value)
            if loading is not None:
                if record is None:
                    loading.pop(entry.key, None)
                else:
                    loading[entry.key] = record
            elif record is None:
                listener.subscription_dropped(entry.key)
            else:
                listener.subscription_stored(record)
    finally:
        await watcher.stop()


def _record(value: bytes | None) -> SubscriptionRecord | None:
    try:
        return SubscriptionRecord.model_validate_json(value or b"")
    except ValidationError:
        log.warning("the subscriptions bucket holds a value that is not a record; ignoring it")
        return None
