"""`entrasync-ctl`: the operators' CLI over NATS (the services' request-reply APIs).

Connection: `--nats-url` (or ENTRASYNC_NATS_URL / NATS_URL) and `--prefix` (or ENTRASYNC_PREFIX).
Tenants and profiles may be named by id or by name. `--json` prints machine-readable output.
Exit codes: 0 done, 1 the thing asked for failed (e.g. a failed connection test or run),
2 refused (the service's error is printed), 3 timeout.
"""

from __future__ import annotations

from entrasync_console.cli import effective, privileged, records, runs
from entrasync_console.cli.common import app

COMMAND_MODULES = (records, runs, privileged, effective)
"""Imported for their commands, which they add to `app`."""


def main() -> None:
    app()
