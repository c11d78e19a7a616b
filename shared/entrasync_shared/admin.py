"""`entrasync-infra`: NATS administration, plus local infrastructure where devtools is installed.

entrasync-infra declare       create/update every stream and KV bucket (admin user)
entrasync-infra nats-config   print the nats-server config with one user per service
entrasync-infra check         where nats-server and mongod are          (entrasync-devtools)
entrasync-infra up            run nats-server + mongod until Ctrl-C; prints their URLs as JSON
                              (entrasync-devtools)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys

from entrasync_shared.natsutil import (
    connect,
    ensure_cursor_bucket,
    ensure_notify_replay_bucket,
    ensure_session_bucket,
    ensure_streams,
    ensure_subscription_bucket,
)
from entrasync_shared.permissions import render_nats_config_with_env_passwords
from entrasync_shared.subjects import Names


async def declare(nats_url: str, names: Names) -> None:
    """Declare every stream and KV bucket; meant for an admin NATS user (a Job)."""
    nc = await connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, names)
        await ensure_cursor_bucket(js, names)
        await ensure_session_bucket(js, names)
        await ensure_subscription_bucket(js, names)
        await ensure_notify_replay_bucket(js, names)
    finally:
        await nc.close()


LOCAL_COMMANDS = ("check", "up")
"""Commands of the developer tooling: they start servers, so they live in `entrasync_devtools`
and are not part of a service image."""
DEVTOOLS_CLI = "entrasync_devtools.infra_cli"


def _local(command: str) -> int:
    # Imported by name, not declared as a dependency: a production install has no devtools.
    try:
        cli = importlib.import_module(DEVTOOLS_CLI)
    except ModuleNotFoundError:
        print(
            f"entrasync-infra {command}: local infrastructure is developer tooling; "
            "install entrasync-devtools (`uv sync` in the repository)",
            file=sys.stderr,
        )
        return 2
    return int(cli.run(command))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="entrasync-infra",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["declare", "nats-config", *LOCAL_COMMANDS])
    parser.add_argument("--prefix", default=os.environ.get("ENTRASYNC_PREFIX", ""))
    parser.add_argument("--port", type=int, default=4222, help="nats-config: client port")
    parser.add_argument("--store-dir", default="/data/jetstream", help="nats-config: JetStream dir")
    args = parser.parse_args(argv)
    names = Names(args.prefix)
    if args.command in LOCAL_COMMANDS:
        return _local(args.command)
    if args.command == "declare":
        url = os.environ.get("ENTRASYNC_NATS_URL") or os.environ.get("NATS_URL")
        if not url:
            print("entrasync-infra declare: set ENTRASYNC_NATS_URL (admin user)", file=sys.stderr)
            return 2
        asyncio.run(declare(url, names))
        buckets = ", ".join(
            (
                names.cursor_bucket,
                names.session_bucket,
                names.subscription_bucket,
                names.notify_replay_bucket,
            )
        )
        print(f"declared {len(names.streams())} streams and buckets {buckets}")
        return 0
    print(
        render_nats_config_with_env_passwords(
            names,
            port=args.port,
            http_port=8222,
            jetstream={"store_dir": args.store_dir},
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
