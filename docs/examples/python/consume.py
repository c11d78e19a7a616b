"""Read entrasync's public change events with a durable JetStream consumer (nats-py).

    pip install nats-py==2.16.0
    python consume.py --durable my-service                      # every event kept, then live
    python consume.py --durable audit-2025 --since 2025-06-01T00:00:00Z

Each event is printed as one line of CloudEvents JSON and acknowledged after it was handled, so
the consumer resumes after the last event it acknowledged when it starts again. Delivery is at
least once: a crash between handling and acknowledging delivers that event again, with the same
`id`, so make the handling idempotent (or remember the ids you have handled).
See docs/consuming-events.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy


def stream_and_subject(prefix: str, subject: str) -> tuple[str, str]:
    """Names of an installation with `ENTRASYNC_PREFIX=prefix` (none in most installations)."""
    if not prefix:
        return "ENTRASYNC_EVENTS", subject
    return f"{prefix.upper().replace('.', '_')}_ENTRASYNC_EVENTS", f"{prefix}.{subject}"


def consumer_config(durable: str, since: datetime | None) -> ConsumerConfig:
    """The durable's settings. They apply when it is created: an existing durable keeps its
    position (and its start time), whatever `since` says now."""
    return ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=60,
        max_ack_pending=1000,
        deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
        opt_start_time=since,
    )


def handle(event: dict[str, Any]) -> None:
    """Your code goes here; this example prints the event as one line of JSON."""
    print(json.dumps(event, separators=(",", ":")), flush=True)


async def consume(args: argparse.Namespace) -> int:
    stream, subject = stream_and_subject(args.prefix, args.subject)
    nc = await nats.connect(args.server)
    try:
        # Creates the durable on first use and binds to it afterwards.
        config = consumer_config(args.durable, args.since)
        sub = await nc.jetstream().pull_subscribe(
            subject, durable=args.durable, stream=stream, config=config
        )
        wait = args.idle_exit or 30.0
        while True:
            try:
                messages = await sub.fetch(100, timeout=wait)
            except TimeoutError:
                if args.idle_exit:
                    return 0
                continue
            for msg in messages:
                handle(json.loads(msg.data))
                # Wait for the server to confirm: the next start resumes after this event.
                await msg.ack_sync()
    finally:
        await nc.close()  # every ack was confirmed: nothing is left to drain


def utc_time(text: str) -> datetime:
    """An ISO 8601 time; one without an offset is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--durable", required=True, help="consumer name; pick one per application")
    parser.add_argument(
        "--since",
        type=utc_time,
        help="when creating the durable: start with events stored from this time (ISO 8601)",
    )
    parser.add_argument("--prefix", default="", help="the installation's ENTRASYNC_PREFIX")
    parser.add_argument(
        "--subject",
        default="entrasync.directory.>",
        help="e.g. entrasync.directory.*.user.> or entrasync.sync.recorded.*",
    )
    parser.add_argument(
        "--idle-exit", type=float, default=0, help="stop after this many seconds without events"
    )
    return parser.parse_args(argv)


def main() -> int:
    try:
        return asyncio.run(consume(parse_args()))
    except KeyboardInterrupt:  # Ctrl-C: unacknowledged events come again on the next start
        return 130


if __name__ == "__main__":
    sys.exit(main())
