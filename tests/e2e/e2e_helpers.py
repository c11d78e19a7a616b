"""Plain helpers for the end-to-end tests: registering directories, running syncs, reading
events, runs and the inventory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from entrasync_devtools.infra import die_with_parent
from entrasync_devtools.stack import ServiceStack
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    SyncNow,
    SyncNowAccepted,
    Tenant,
    TenantCreate,
)
from entrasync_shared.natsutil import call
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from pymongo import MongoClient
from support import polling

T = TypeVar("T")

CLOUD = "simlab"
"""The custom cloud the stack registers the simulator as."""

GRAPH_KINDS = {"user": "users", "group": "groups", "device": "devices"}


async def stream_last_seq(js: JetStreamContext, stream: str) -> int:
    return int((await js.stream_info(stream)).state.last_seq)


async def read_events(
    js: JetStreamContext, stream: str, subject: str, after_seq: int = 0, *, effective: bool = False
) -> list[dict[str, Any]]:
    """Every message on `subject` stored after `after_seq`, decoded (CloudEvents envelopes);
    `effective_changed` events (about principals, not objects) only when `effective`."""
    last = await stream_last_seq(js, stream)
    if last <= after_seq:
        return []
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after_seq + 1
    )
    events = [
        json.loads(msg.data) for msg in await stored_messages(js, stream, subject, config, last)
    ]
    if effective:
        return events
    return [e for e in events if not str(e.get("type", "")).endswith(".effective_changed")]


async def stored_messages(
    js: JetStreamContext,
    stream: str,
    subject: str,
    config: ConsumerConfig,
    last_seq: int | None = None,
) -> list[Msg]:
    """The messages `stream` holds on `subject` from `config`'s start (up to `last_seq`).

    Reads until the filtered consumer has nothing pending, so it never waits out a fetch
    timeout: tests poll this many times per tenant, and those waits used to add up to minutes."""
    sub = await js.pull_subscribe(subject, stream=stream, config=config)
    found: list[Msg] = []
    try:
        pending = (await sub.consumer_info()).num_pending
        while pending:
            batch = await sub.fetch(min(pending, 200), timeout=10)
            for msg in batch:
                if last_seq is not None and msg.metadata.sequence.stream > last_seq:
                    return found
                found.append(msg)
                await msg.ack()
            pending = batch[-1].metadata.num_pending
    finally:
        await sub.unsubscribe()
    return found


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, within: float = 90.0
) -> T:
    """`support.polling.eventually` at the whole system's pace: a first full sync of the test
    tenant on two shared cores can take a minute, and polling Mongo more often only adds load."""
    return await polling.eventually(probe, what, within, interval=0.25)


def live_inventory(
    mongo: MongoClient[dict[str, Any]], db: str, tenant_id: str
) -> dict[str, dict[str, dict[str, Any]]]:
    """Live objects per type from history's `inventory` collection, keyed by object id."""
    result: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in GRAPH_KINDS}
    for doc in mongo[db]["inventory"].find({"tenant_id": tenant_id, "deleted": False}):
        entry = dict(doc["attributes"])
        if doc["object_type"] == "group":
            entry["members"] = sorted(doc.get("members") or [])
            entry["memberTypes"] = member_types(doc)
        result[doc["object_type"]][doc["object_id"]] = entry
    return result


def member_types(doc: dict[str, Any]) -> dict[str, str]:
    """A group document's live members, id → type, as the simulator's truth has them in
    `memberTypes` (history stores only the types that differ from the group's default)."""
    types, default = doc.get("member_types") or {}, doc.get("member_default") or "unknown"
    return {m: types.get(m, default) for m in doc.get("members") or []}


def differences(
    inventory: dict[str, dict[str, dict[str, Any]]], truth: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """How the inventory differs from the simulator's truth (empty when they agree)."""
    problems: list[str] = []
    for object_type, kind in GRAPH_KINDS.items():
        expected = {obj["id"]: obj for obj in truth[kind]}
        stored = inventory[object_type]
        missing, extra = set(expected) - set(stored), set(stored) - set(expected)
        problems += [f"{object_type} {i} missing" for i in sorted(missing)]
        problems += [f"{object_type} {i} should not be live" for i in sorted(extra)]
        for object_id in set(expected) & set(stored):
            if "displayName" not in stored[object_id]:
                problems.append(f"{object_type} {object_id} has no displayName")
            for key, value in stored[object_id].items():
                if expected[object_id].get(key) != value:
                    problems.append(
                        f"{object_type} {object_id}.{key}: stored {value!r}, "
                        f"truth {expected[object_id].get(key)!r}"
                    )
    return problems


async def register(
    bus: NatsClient,
    stack: ServiceStack,
    app: Mapping[str, Any],
    *,
    interval_seconds: int = 3600,
    cloud: str = CLOUD,
    **settings: Any,
) -> Tenant:
    """Register one simulated directory over config's API: its app's secret as a credential
    profile, then the tenant (hourly by default: every later run is one the test asks for),
    with any other `TenantCreate` field in `settings`."""
    profile = await call(
        bus,
        stack.names.api("config", "profile.create"),
        CredentialProfileCreate(
            name=f"e2e {app['domain']} {uuid.uuid4().hex[:6]}",
            client_id=app["client_id"],
            client_secret=app["client_secret"],
        ),
        CredentialProfile,
    )
    create = TenantCreate(
        tenant=app["domain"],
        cloud=cloud,
        profile_id=profile.id,
        interval_seconds=interval_seconds,
        **settings,
    )
    return await call(bus, stack.names.api("config", "tenant.create"), create, Tenant)


async def recorded(bus: NatsClient, stack: ServiceStack, tenant_id: str) -> dict[str, dict]:
    """Every `sync.recorded` of a tenant so far, by run id."""
    names = stack.names
    events = await read_events(bus.jetstream(), names.events_stream, names.sync_recorded(tenant_id))
    return {event["data"]["run_id"]: event["data"] for event in events}


async def run_now(
    bus: NatsClient, stack: ServiceStack, tenant_id: str, *, must_succeed: bool = True
) -> dict[str, Any]:
    """Ask for a run (after the one in flight, if any) and wait until it is recorded."""
    subject = stack.names.api("scheduler", "sync_now")
    while True:
        accepted = await call(bus, subject, SyncNow(tenant_id=tenant_id), SyncNowAccepted)
        run_id = accepted.run_id if accepted.status == "queued" else accepted.after_run
        assert run_id is not None

        async def probe(run_id: str = run_id) -> dict | None:
            return (await recorded(bus, stack, tenant_id)).get(run_id)

        done = await eventually(probe, f"run {run_id} recorded")
        if accepted.status == "queued":
            assert done["status"] == "Succeeded" or not must_succeed, done
            return done


class ServiceProcess:
    """One more process of a service (`entrasync-<service>`), configured like `stack`'s own
    plus `env`, that a test starts, SIGKILLs or stops itself."""

    def __init__(
        self, stack: ServiceStack, service: str, name: str, env: Mapping[str, str]
    ) -> None:
        self.service = service
        environment = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
        environment.update(
            ENTRASYNC_NATS_URL=stack.nats_url,
            ENTRASYNC_PREFIX=stack.prefix,
            PYTHONUNBUFFERED="1",
            **env,
        )
        self.log = stack.workdir / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / f"entrasync-{service}")],
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )

    async def ready(self) -> None:
        """Until its log says `<service> ready` (it must not exit meanwhile)."""

        async def up() -> bool:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            return f"{self.service} ready" in self.log.read_text(errors="replace")

        await eventually(up, f"the {self.service} to be ready", within=30)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
