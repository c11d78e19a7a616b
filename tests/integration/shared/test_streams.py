import nats
from entrasync_devtools.infra import LocalInfra
from entrasync_shared.natsutil import ensure_cursor_bucket, ensure_streams, subscriptions_in_place
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
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


async def test_subscriptions_are_in_place_for_another_connection_once_settled(
    nc: NatsClient, infra: LocalInfra, names: Names
) -> None:
    # Regression guard: one `flush()` could return before the server had queued SUBs, and a
    # request from another connection got "no responders" (timing-dependent, seen in CI).
    other = await nats.connect(infra.nats_url)
    try:
        for trial in range(20):
            subject = f"{names.prefix}.race.{trial}"

            async def answer(msg: Msg) -> None:
                await msg.respond(b"ok")

            for n in range(30):  # queued without yielding, the way an app starts its subscribers
                await nc.subscribe(f"{subject}.{n}", queue="q", cb=answer)
            await subscriptions_in_place(nc)
            reply = await other.request(f"{subject}.29", b"", timeout=2)
            assert reply.data == b"ok"
    finally:
        await other.close()
