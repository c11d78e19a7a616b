"""`entrasync-infra check` and `entrasync-infra up`: the local-infrastructure commands.

`entrasync_shared.admin` (the production CLI, also in the admin image) hands these two commands
over to this module when the developer tooling is installed.
"""

from __future__ import annotations

import json
import signal
import sys

from entrasync_devtools.infra import InfraError, LocalInfra, find_mongod, find_nats_server


def check() -> dict[str, str]:
    """Where the nats-server and mongod binaries that `LocalInfra` would start are."""
    return {"nats-server": str(find_nats_server()), "mongod": str(find_mongod())}


def up() -> None:
    """Run nats-server and mongod until SIGINT/SIGTERM; print their URLs as one JSON line."""
    with LocalInfra() as infra:
        print(json.dumps({"nats_url": infra.nats_url, "mongodb_uri": infra.mongodb_uri}))
        sys.stdout.flush()
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        signal.sigwait(stop_signals)


def run(command: str) -> int:
    """Run `check` or `up`; 2 with the fix-it message when infrastructure is missing."""
    try:
        if command == "check":
            print(json.dumps(check()))
        else:
            up()
    except InfraError as err:
        print(f"entrasync-infra: {err}", file=sys.stderr)
        return 2
    return 0
