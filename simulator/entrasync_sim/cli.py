"""`entrasync-sim serve`: run the simulator over HTTPS and announce it with one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
import uvloop

from entrasync_sim.app import build_app
from entrasync_sim.delta import Quirks
from entrasync_sim.delta_text import render_memberships
from entrasync_sim.runtime import SEVEN_DAYS, Settings, Simulator
from entrasync_sim.seed import ExtraCounts, seed_tenants
from entrasync_sim.tenants import TenantRegistry
from entrasync_sim.throttle import Throttle, ThrottleSettings
from entrasync_sim.tls import write_tls_files

log = logging.getLogger("entrasync_sim")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="entrasync-sim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the identity, Graph and control APIs")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--users", type=_count, default=100)
    serve.add_argument("--groups", type=_count, default=10)
    serve.add_argument("--devices", type=_count, default=20)
    # Default: scaled with --users (see `seed.ExtraCounts.resolve`).
    serve.add_argument("--service-principals", type=_count, default=None)
    serve.add_argument("--applications", type=_count, default=None)
    serve.add_argument("--contacts", type=_count, default=None)
    serve.add_argument("--administrative-units", type=_count, default=None)
    serve.add_argument("--tenants", type=_positive, default=1)
    serve.add_argument("--page-size", type=_positive, default=200)
    serve.add_argument("--member-slice", type=_positive, default=500)
    serve.add_argument("--token-lifetime", type=_positive, default=3599, metavar="SECONDS")
    serve.add_argument(
        "--delta-link-lifetime", type=_positive, default=SEVEN_DAYS, metavar="SECONDS"
    )
    serve.add_argument("--throttling", choices=["on", "off"], default="on")
    # An RSA key per tenant takes ~0.3 s: `off` mints a thousand tenants in seconds (their apps
    # then authenticate with their secret only).
    serve.add_argument("--certificates", choices=["on", "off"], default="on")
    serve.add_argument("--throttle-budget", type=_positive, default=None, metavar="UNITS")
    serve.add_argument("--duplicates", type=_probability, default=0.0)
    serve.add_argument("--replays", type=_probability, default=0.0)
    serve.add_argument("--empty-pages", type=_probability, default=0.0)
    serve.add_argument("--missed-restores", type=_probability, default=0.0)
    serve.add_argument("--state-dir", type=Path, default=None, help="default: a new temp dir")
    return parser


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return number


def _probability(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return number


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicit IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections;
    # without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server plus an event set once it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.started_event = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.started_event.set()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _serve(args: argparse.Namespace) -> None:
    state_dir = (args.state_dir or Path(tempfile.mkdtemp(prefix="entrasync-sim-"))).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    tls = write_tls_files(state_dir)
    tenants = seed_tenants(
        args.seed,
        args.tenants,
        args.users,
        args.groups,
        args.devices,
        certificates=args.certificates == "on",
        extra=ExtraCounts(
            service_principals=args.service_principals,
            applications=args.applications,
            contacts=args.contacts,
            administrative_units=args.administrative_units,
        ),
    )
    quirks = Quirks(
        args.duplicates,
        args.replays,
        args.empty_pages,
        seed=args.seed,
        missed_restores=args.missed_restores,
    )
    for tenant in tenants:
        tenant.quirks = quirks
        render_memberships(tenant.directory, args.member_slice)
    # Millions of seeded objects live as long as the server: keep the collector from
    # re-scanning them in every full collection (each took longer than a page to serve).
    gc.freeze()
    simulator = Simulator(
        TenantRegistry(tenants),
        settings=Settings(
            page_size=args.page_size,
            member_slice=args.member_slice,
            token_lifetime=args.token_lifetime,
            delta_link_lifetime=args.delta_link_lifetime,
        ),
        throttle=Throttle(
            ThrottleSettings(enabled=args.throttling == "on", budget=args.throttle_budget)
        ),
        notifier_ca_file=str(tls.ca_file),
    )
    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        build_app(simulator),
        ssl_certfile=str(tls.cert_file),
        ssl_keyfile=str(tls.key_file),
        # httptools parses HTTP in C; h11 (uvicorn's pure-Python default) cost more per page
        # than rendering it.
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
        # Nothing stands in front of the simulator: no X-Forwarded-* to honour on every
        # request; Graph sends no `server` header.
        proxy_headers=False,
        server_header=False,
        # A client that keeps an idle TLS connection would otherwise hold up shutdown for the
        # TLS close handshake (tens of seconds).
        timeout_graceful_shutdown=1,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    started = asyncio.create_task(server.started_event.wait())
    await asyncio.wait([serving, started], return_when=asyncio.FIRST_COMPLETED)
    if not server.started:
        started.cancel()
        await serving
        raise SystemExit("entrasync-sim: the server stopped during startup")
    base = f"https://{_url_host(args.host)}:{port}"
    ready: dict[str, Any] = {
        "authority_host": base,
        "graph_url": base,
        "control_url": f"{base}/_control",
        "ca_file": str(tls.ca_file),
        "state_dir": str(state_dir),
        "tenants": [t.describe() for t in tenants],
    }
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    log.info("serving %s (state in %s)", base, state_dir)
    await serving


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    # uvicorn re-raises the captured signal after a graceful shutdown; these no-op handlers
    # turn that into a normal exit instead of death-by-signal.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    uvloop.run(_serve(args))
