"""The demo's worker process: infrastructure, simulator, services, tenants, ready line, feed.

`entrasync-demo` (the supervisor, `demo.py`) runs this in its own process group and sends it
SIGTERM on Ctrl-C; it then stops in order — its own NATS connections, the services, the
simulator, mongod, nats-server — so nothing reconnects to a server that is already gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from entrasync_shared.admin import declare
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    Tenant,
    TenantCreate,
)
from entrasync_shared.natsutil import call, connect
from entrasync_shared.permissions import ALL_USERS
from entrasync_shared.subjects import Names
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, DeliverPolicy

from entrasync_devtools.demo import build_parser
from entrasync_devtools.infra import InfraError, LocalInfra
from entrasync_devtools.keys import new_encryption_key
from entrasync_devtools.stack import SERVICES, ServiceStack, SimulatorCloud

CLOUD = "simulator"
NAMES = Names()
READY_PREFIX = "entrasync demo ready: "
FIRST_SYNC_TIMEOUT = 240.0
T = TypeVar("T")


class Stopped(Exception):
    """The supervisor asked us to stop (SIGTERM) while we were waiting for something."""


def write_private(path: Path, text: str) -> Path:
    """Write `text` to a new file only its owner can read (created 0600: never readable by
    others, not even for a moment)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)  # an existing file keeps its old mode through O_TRUNC
    return path


@dataclass(frozen=True)
class NatsUsers:
    """The NATS URL of each per-service user (all the same URL when NATS_URL names a server
    we did not start: then its own access rules apply)."""

    urls: dict[str, str]

    @classmethod
    def of(cls, infra: LocalInfra) -> NatsUsers:
        return cls({user: infra.user_url(user) for user in ALL_USERS})

    def service_env(self) -> dict[str, dict[str, str]]:
        """Each service connects as its own user, as in deploy/overlays/dev."""
        services = ("config", "scheduler", "syncer", "history", "receiver", "console")
        return {service: {"ENTRASYNC_NATS_URL": self.urls[service]} for service in services}


@dataclass(frozen=True)
class Registered:
    """A simulated directory and the entrasync tenant syncing it."""

    tenant: Tenant
    directory: dict[str, Any]

    def describe(self, recorded: dict[str, Any]) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant.id,
            "entra_tenant_id": self.directory["tenant_id"],
            "domain": self.directory["domain"],
            "first_sync": recorded.get("status"),
        }


class Demo:
    """The asynchronous part: register tenants, wait for their first syncs, show events."""

    def __init__(
        self,
        args: Any,
        sim: SimulatorProcess,
        stack: ServiceStack,
        infra: LocalInfra,
        users: NatsUsers,
        started: datetime,
    ) -> None:
        self.args, self.sim, self.stack, self.infra, self.users = args, sim, stack, infra, users
        self.workdir = Path(args.workdir)
        self.started = started
        self.stop = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop.set)
        # The console's user registers tenants (as the CLI would); the read-only `reader`
        # follows events, as any consumer of entrasync's events would.
        console = await connect(self.users.urls["console"])
        reader = await connect(self.users.urls["reader"])
        feed = asyncio.create_task(self._feed(reader))
        try:
            registered = [
                await self._until_stopped(self._register(console, directory))
                for directory in self.sim.tenants
            ]
            recorded = await self._until_stopped(
                asyncio.gather(*(self._first_sync(reader, r.tenant.id) for r in registered)),
                timeout=FIRST_SYNC_TIMEOUT,
            )
            self._announce(registered, recorded)
            await self._until_stopped(feed)
        except Stopped:
            pass
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feed
            await console.close()
            await reader.close()

    async def _until_stopped(self, work: Awaitable[T], timeout: float | None = None) -> T:
        """`work`'s result, unless a stop request comes first (raises `Stopped`)."""
        task = asyncio.ensure_future(work)
        stopping = asyncio.create_task(self.stop.wait())
        try:
            done, _ = await asyncio.wait(
                {task, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopping.cancel()
        if task in done:
            return task.result()
        task.cancel()
        # Let it finish cancelling, so no "exception was never retrieved" is printed.
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()
        if stopping in done:
            raise Stopped
        raise TimeoutError(f"no answer within {timeout:.0f}s (logs: {self.workdir}/*.log)")

    async def _register(self, nc: NatsClient, directory: dict[str, Any]) -> Registered:
        """A credential profile and a tenant for one simulated directory."""
        profile = await call(
            nc,
            NAMES.api("config", "profile.create"),
            CredentialProfileCreate(
                name=f"simulator app ({directory['domain']})",
                client_id=directory["client_id"],
                client_secret=directory["client_secret"],
            ),
            CredentialProfile,
        )
        tenant = await call(
            nc,
            NAMES.api("config", "tenant.create"),
            TenantCreate(
                tenant=directory["domain"],
                cloud=CLOUD,
                profile_id=profile.id,
                interval_seconds=self.args.interval,
                # Users and groups by Graph's change notifications, delivered by the simulator
                # to the stack's receiver; devices at the interval.
                near_real_time=True,
            ),
            Tenant,
        )
        return Registered(tenant, directory)

    async def _first_sync(self, nc: NatsClient, tenant_id: str) -> dict[str, Any]:
        """The tenant's first `sync.recorded` event (published by history)."""
        sub = await nc.jetstream().subscribe(
            NAMES.sync_recorded(tenant_id),
            stream=NAMES.events_stream,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        try:
            msg = await sub.next_msg(timeout=FIRST_SYNC_TIMEOUT)
            return dict(json.loads(msg.data)["data"])
        finally:
            await sub.unsubscribe()

    async def _feed(self, nc: NatsClient) -> None:
        """Print each public change event published since the demo started, once.

        An ordered consumer: ephemeral, no acknowledgements (so no redelivery after the ack
        wait, which printed every event again every 30 s), gaps repaired by the client.
        """
        sub = await nc.jetstream().subscribe(
            NAMES.directory_events,
            stream=NAMES.events_stream,
            ordered_consumer=True,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=self.started
            ),
        )
        async for msg in sub.messages:
            event = json.loads(msg.data)
            print(f"event {event['type']} {event['subject']}: {json.dumps(event['data'])}")
            sys.stdout.flush()

    def _announce(self, registered: list[Registered], recorded: Sequence[dict[str, Any]]) -> None:
        ready = ready_object(self, registered, recorded)
        elapsed = (datetime.now(UTC) - self.started).total_seconds()
        statuses = ", ".join(str(r.get("status")) for r in recorded)
        lines = [
            READY_PREFIX + json.dumps(ready, default=str),
            f"First syncs ({statuses}) after {elapsed:.0f}s.",
            *hints(ready, registered[0].directory),
        ]
        print("\n".join(lines))
        sys.stdout.flush()


def ready_object(
    demo: Demo, registered: list[Registered], recorded: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The ready line's object: no simulated app secret, key or certificate — those go to a
    0600 file named in `simulator.ready_file` — and two unambiguous ids: `tenant_id` is
    entrasync's tenant id, `entra_tenant_id` the simulated directory's GUID."""
    sim, workdir = demo.sim, demo.workdir
    ready_file = write_private(workdir / "simulator-ready.json", json.dumps(sim.ready, indent=2))
    users_file = write_private(workdir / "nats-users.json", json.dumps(demo.users.urls, indent=2))
    access = demo.stack.console
    assert access is not None
    first = registered[0]
    return {
        "nats_url": demo.users.urls["admin"],
        "nats_users_file": str(users_file),
        "mongodb_uri": demo.infra.mongodb_uri,
        "tenant_id": first.tenant.id,
        "entra_tenant_id": first.directory["tenant_id"],
        "tenants": [r.describe(done) for r, done in zip(registered, recorded, strict=True)],
        "simulator": {
            "authority_host": sim.authority_host,
            "graph_url": sim.graph_url,
            "control_url": sim.control_url,
            "ca_file": sim.ca_file,
            "ready_file": str(ready_file),
        },
        "first_sync": recorded[0],
        "workdir": str(workdir),
        "console_url": access.url,
        "receiver_url": demo.stack.receiver_url,
        "metrics_urls": {service: demo.stack.metrics_url(service) for service in SERVICES},
        "admin_user": access.admin_user,
        "admin_password": access.admin_password,
        "api_token": access.api_token,
    }


def hints(ready: dict[str, Any], directory: dict[str, Any]) -> list[str]:
    """What to look at, with ready-made commands."""
    sim, workdir = ready["simulator"], ready["workdir"]
    curl = f"curl --cacert {sim['ca_file']} -H 'content-type: application/json'"
    return [
        f"  web console:           {ready['console_url']}  (user {ready['admin_user']}, "
        f"password {ready['admin_password']})",
        f"  REST API:              curl -H 'Authorization: Bearer {ready['api_token']}' "
        f"{ready['console_url']}/api/v1/tenants",
        f"  services' logs:        {workdir}/*.log",
        f"  notification receiver: {ready['receiver_url']}/notifications  (Graph's change "
        "notifications: the simulator delivers them here)",
        *(
            f"  Prometheus metrics:    {url}  ({service})"
            for service, url in ready["metrics_urls"].items()
        ),
        f"  inventory (MongoDB):   mongosh '{ready['mongodb_uri']}'  (database entrasync_history)",
        f"  change events (NATS):  nats --server {ready['nats_url']} sub 'entrasync.directory.>'"
        f"  (admin; every service's user: {ready['nats_users_file']})",
        f"  simulated apps:        {sim['ready_file']}  (client ids, secrets, certificates)",
        f"  make a change:         {curl} -X POST "
        f"{sim['control_url']}/tenants/{directory['tenant_id']}/users "
        '-d \'{"displayName": "Ada Lovelace"}\'',
        f"  add a directory:       {curl} -X POST {sim['control_url']}/tenants "
        "-d '{\"users\": 50}'  then add it in the console (cloud: simulator)",
        "  ...and watch its event appear below in about a second (users and groups are near "
        "real time; devices follow each sync interval). Ctrl-C stops everything (a second one "
        "at once).",
    ]


LOGGING_VARIABLES = ("ENTRASYNC_LOG_FORMAT", "ENTRASYNC_LOG_LEVEL")


def logging_choices() -> dict[str, str]:
    """The caller's log format and level (`ENTRASYNC_LOG_FORMAT=json make demo`), passed on to
    every service: the stack gives services no other `ENTRASYNC_*` variable of the caller's."""
    return {name: os.environ[name] for name in LOGGING_VARIABLES if os.environ.get(name)}


def run(args: Any) -> int:
    """Start everything, run the demo until SIGTERM, stop everything in order."""
    workdir = Path(args.workdir)
    started = datetime.now(UTC)
    # Until the event loop takes over, a stop request unwinds the `with` blocks below.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with (
            LocalInfra(workdir=workdir / "infra", secure=NAMES) as infra,
            SimulatorProcess(
                users=args.users,
                groups=args.groups,
                devices=args.devices,
                tenants=args.tenants,
                page_size=100,
                state_dir=workdir / "simulator",
            ) as sim,
        ):
            users = NatsUsers.of(infra)
            # As in a deployment: the admin user declares streams and buckets, services may not.
            asyncio.run(declare(users.urls["admin"], NAMES))
            cloud = SimulatorCloud(CLOUD, sim.authority_host, sim.graph_url, sim.ca_file)
            env = {
                "ENTRASYNC_CLOUDS": cloud.as_setting(),
                "ENTRASYNC_CONFIG_ENCRYPTION_KEY": new_encryption_key(),
                "ENTRASYNC_SCHEDULER_JITTER_SECONDS": "0",
                **logging_choices(),
            }
            with ServiceStack(
                users.urls["console"],
                infra.mongodb_uri,
                workdir,
                env,
                service_env=users.service_env(),
            ) as stack:
                asyncio.run(Demo(args, sim, stack, infra, users, started).run())
                # Stopping from here on: a second SIGTERM must not cut the orderly stop short
                # (the supervisor kills the whole group if it takes too long).
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return 0
    except KeyboardInterrupt:
        return 0
    except InfraError as err:
        print(f"entrasync demo: {err}", file=sys.stderr)
        return 2
    except TimeoutError as err:
        print(f"entrasync demo: {err}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.workdir is None:
        raise SystemExit("entrasync_devtools.demo_worker is started by entrasync-demo")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
