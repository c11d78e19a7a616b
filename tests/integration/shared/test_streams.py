from entrasync_shared.natsutil import ensure_cursor_bucket, ensure_streams
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from nats.js.api import RetentionPolicy


async def test_streams_are_declared_idempotently(nc: NatsClient, names: Names) -> None:
    js = nc.jetstream()
    await ensure_streams(js, names)
    info = await js.stream_info(names.commands_stream)
    assert info.config.retention == RetentionPolicy.WORK_QUEUE
    assert info.config.duplicate_window == 600


async def test_the_cursor_bucket_is_created_once(nc: NatsClient, names: Names) -> None:
    js = nc.jetstream()
    first = await ensure_cursor_bucket(js, names)
    await first.put("tenant.user", b"https://graph/delta")
    again = await ensure_cursor_bucket(js, names)
    entry = await again.get("tenant.user")
    assert entry.value == b"https://graph/delta"
