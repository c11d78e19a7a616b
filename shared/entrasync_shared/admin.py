"""`entrasync-infra`: local infrastructure and NATS administration from the command line.

entrasync-infra check         where nats-server and mongod are (installing nats-server if needed)
entrasync-infra up            run nats-server + mongod until Ctrl-C; prints their URLs as JSON
entrasync-infra declare       create/update every stream and KV bucket (admin user)
entrasync-infra nats-config   print the nats-server config with one user per service
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

from entrasync_shared.infra import InfraError, LocalInfra, find_mongod, find_nats_server
from entrasync_shared.natsutil import (
    connect,
    ensure_cursor_bucket,
    ensure_session_bucket,
    ensure_streams,
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
    finally:
        await nc.close()


def _up() -> None:
    with LocalInfra() as infra:
        print(json.dumps({"nats_url": infra.nats_url, "mongodb_uri": infra.mongodb_uri}))
        sys.stdout.flush()
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        signal.sigwait(stop_signals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="entrasync-infra",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["check", "up", "declare", "nats-config"])
    parser.add_argument("--prefix", default=os.environ.get("ENTRASYNC_PREFIX", ""))
    parser.add_argument("--port", type=int, default=4222, help="nats-config: client port")
    parser.add_argument("--store-dir", default="/data/jetstream", help="nats-config: JetStream dir")
    args = parser.parse_args(argv)
    names = Names(args.prefix)
    try:
        if args.command == "check":
            found = {"nats-server": str(find_nats_server()), "mongod": str(find_mongod())}
            print(json.dumps(found))
        elif args.command == "up":
            _up()
        elif args.command == "declare":
            url = os.environ.get("ENTRASYNC_NATS_URL") or os.environ.get("NATS_URL")
            if not url:
                print(
                    "entrasync-infra declare: set ENTRASYNC_NATS_URL (admin user)", file=sys.stderr
                )
                return 2
            asyncio.run(declare(url, names))
            buckets = f"{names.cursor_bucket}, {names.session_bucket}"
            print(f"declared {len(names.streams())} streams and buckets {buckets}")
        else:
            print(
                render_nats_config_with_env_passwords(
                    names,
                    port=args.port,
                    http_port=8222,
                    jetstream={"store_dir": args.store_dir},
                )
            )
        return 0
    except InfraError as err:
        print(f"entrasync-infra: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
