"""`make demo`: the whole system on this machine, syncing a simulated tenant until Ctrl-C.

Starts real nats-server and mongod (or uses NATS_URL / MONGODB_URI), the Graph/Entra simulator
with a few hundred users, every service as its own process (the web console too, with a made-up
admin account and API token), registers the simulated tenant through the config API, waits for
the first sync to be recorded, prints one machine-readable `entrasync demo ready: {...}` line
plus a few hints, then streams the public change events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import nats
from entrasync_shared.infra import InfraError, LocalInfra
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    Tenant,
    TenantCreate,
)
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from entrasync_sim.launcher import SimulatorProcess
from nats.js.api import ConsumerConfig, DeliverPolicy

from entrasync_devtools.keys import new_encryption_key
from entrasync_devtools.stack import ServiceStack, SimulatorCloud

CLOUD = "simulator"


async def register_tenant(
    nats_url: str, names: Names, sim: SimulatorProcess, interval: int
) -> Tenant:
    """Create a credential profile and a tenant for the simulator's first tenant."""
    simulated = sim.tenants[0]
    nc = await nats.connect(nats_url)
    try:
        profile = await call(
            nc,
            names.api("config", "profile.create"),
            CredentialProfileCreate(
                name="simulator app",
                client_id=simulated["client_id"],
                client_secret=simulated["client_secret"],
            ),
            CredentialProfile,
        )
        return await call(
            nc,
            names.api("config", "tenant.create"),
            TenantCreate(
                tenant=simulated["domain"],
                cloud=CLOUD,
                profile_id=profile.id,
                interval_seconds=interval,
            ),
            Tenant,
        )
    finally:
        await nc.close()


async def wait_first_sync(nats_url: str, names: Names, tenant_id: str, timeout: float) -> dict:
    """Block until history publishes the tenant's first `sync.recorded` event."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(
            names.sync_recorded(tenant_id),
            stream=names.events_stream,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        msg = await sub.next_msg(timeout=timeout)
        await sub.unsubscribe()
        return dict(json.loads(msg.data)["data"])
    finally:
        await nc.close()


async def follow_changes(nats_url: str, names: Names) -> None:
    """Print each public change event as it arrives, until interrupted."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(
            names.directory_events,
            stream=names.events_stream,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
        )
        while True:
            with contextlib.suppress(nats.errors.TimeoutError):
                msg = await sub.next_msg(timeout=0.5)
                event = json.loads(msg.data)
                print(f"event {event['type']} {event['subject']}: {json.dumps(event['data'])}")
                sys.stdout.flush()
    finally:
        await nc.close()


def console_access(stack: ServiceStack) -> dict[str, str]:
    """The web console's address and the demo's admin login and API token."""
    assert stack.console is not None
    return {
        "console_url": stack.console.url,
        "admin_user": stack.console.admin_user,
        "admin_password": stack.console.admin_password,
        "api_token": stack.console.api_token,
    }


def _hints(ready: dict, workdir: Path) -> list[str]:
    sim = ready["simulator"]
    tenant = sim["tenants"][0]["tenant_id"]
    return [
        f"  web console:           {ready['console_url']}  (user {ready['admin_user']}, "
        f"password {ready['admin_password']})",
        f"  REST API:              curl -H 'Authorization: Bearer {ready['api_token']}' "
        f"{ready['console_url']}/api/v1/tenants",
        f"  services' logs:        {workdir}/*.log",
        f"  inventory (MongoDB):   mongosh '{ready['mongodb_uri']}'  (database entrasync_history)",
        f"  change events (NATS):  nats --server {ready['nats_url']} sub 'entrasync.directory.>'",
        "  make a change:         curl --cacert "
        f"{sim['ca_file']} -X POST {sim['control_url']}/tenants/{tenant}/users "
        "-H 'content-type: application/json' -d '{\"displayName\": \"Ada Lovelace\"}'",
        "  ...and watch its event appear below within one sync interval. Ctrl-C stops everything.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="entrasync-demo", description=__doc__)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--groups", type=int, default=25)
    parser.add_argument("--devices", type=int, default=60)
    parser.add_argument("--interval", type=int, default=15, help="sync interval in seconds")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="entrasync-demo-"))
    started = time.monotonic()
    ready_shown = False
    try:
        with (
            LocalInfra(workdir=workdir / "infra") as infra,
            SimulatorProcess(
                users=args.users,
                groups=args.groups,
                devices=args.devices,
                page_size=100,
                state_dir=workdir / "simulator",
            ) as sim,
        ):
            cloud = SimulatorCloud(CLOUD, sim.authority_host, sim.graph_url, sim.ca_file)
            env = {
                "ENTRASYNC_CLOUDS": cloud.as_setting(),
                "ENTRASYNC_CONFIG_ENCRYPTION_KEY": new_encryption_key(),
                "ENTRASYNC_SCHEDULER_JITTER_SECONDS": "0",
            }
            with ServiceStack(infra.nats_url, infra.mongodb_uri, workdir, env) as stack:
                tenant = asyncio.run(
                    register_tenant(infra.nats_url, stack.names, sim, args.interval)
                )
                recorded = asyncio.run(wait_first_sync(infra.nats_url, stack.names, tenant.id, 240))
                ready = {
                    "nats_url": infra.nats_url,
                    "mongodb_uri": infra.mongodb_uri,
                    "tenant_id": tenant.id,
                    "simulator": sim.ready,
                    "first_sync": recorded,
                    "workdir": str(workdir),
                    **console_access(stack),
                }
                print("entrasync demo ready: " + json.dumps(ready, default=str))
                print(f"First sync {recorded['status']} after {time.monotonic() - started:.0f}s.")
                for line in _hints(ready, workdir):
                    print(line)
                sys.stdout.flush()
                ready_shown = True
                asyncio.run(follow_changes(infra.nats_url, stack.names))
        return 0
    except InfraError as err:
        print(f"entrasync demo: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("entrasync demo stopped; every process it started has exited.", file=sys.stderr)
        return 0 if ready_shown else 130


if __name__ == "__main__":
    raise SystemExit(main())
