"""What a NATS user is refused: connect as the user, try, and collect the server's permission
errors (the server answers a refused publish or subscription with `-ERR`, nothing else)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from entrasync_shared.natsutil import connect


async def refused(
    url: str, *, publish: Sequence[str] = (), subscribe: Sequence[str] = ()
) -> list[str]:
    """The permission violations the server reports for `url`'s user publishing to each subject
    of `publish` (with a reply inbox of its own, as an API call would) and subscribing to each of
    `subscribe`. Waits (with a deadline) until every attempt was refused."""
    errors: list[str] = []
    expected = len(publish) + len(subscribe)
    answered = asyncio.Event()

    async def on_error(err: Exception) -> None:
        errors.append(str(err))
        if len(errors) >= expected:
            answered.set()

    nc = await connect(url, error_cb=on_error, max_reconnect_attempts=0)
    try:
        for subject in subscribe:
            await nc.subscribe(subject)
        for subject in publish:
            await nc.publish(subject, b"{}", reply=nc.new_inbox())
        await nc.flush()
        # The server sends its -ERR lines before the flush's PONG; the callbacks run soon after.
        await asyncio.wait_for(answered.wait(), 3)
    except TimeoutError:
        pass  # some attempt was allowed: the caller sees which from what is missing
    finally:
        await nc.close()
    return [e for e in errors if "permissions violation" in e.lower()]


def names_refused(errors: list[str], subjects: Sequence[str]) -> list[str]:
    """The subjects of `subjects` that some error of `errors` names."""
    return [s for s in subjects if any(f'"{s.lower()}"' in e.lower() for e in errors)]
