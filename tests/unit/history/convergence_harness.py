"""An in-process entrasync for randomised convergence tests (issue 17.12).

Real code at every layer that decides what the inventory holds: the Graph simulator's ASGI app
(directory, delta rounds, quirks, replication lag, faults, throttling) served in-process over
`httpx.ASGITransport`; the syncer's `sync_tenant` reading it through its real httpx Graph
adapter (whose `Retry-After` sleeps move the simulator's clock instead of waiting); and
history's use cases (`record_started`, `apply_batch`, `record_finished`) over the dict-backed
`FakeHistoryStore`. Only NATS and MongoDB are replaced: the pipeline stream is a list that this
harness delivers from as history's durable does (in order, one unacked message at a time), so it
can crash history before or after committing a message (the message stays unacked and comes
back before anything newer, as `max_ack_pending=1` makes JetStream do), and crash the syncer
after any publish (the command is redelivered as the next attempt of the same run).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from entrasync_history.domain.events import OutgoingEvent
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.usecases.finishes import finish_or_hold, retry_held
from entrasync_history.usecases.pipeline import (
    Context,
    apply_batch,
    record_started,
)
from entrasync_shared.messages import (
    CloudEndpoints,
    Credential,
    ObservationBatch,
    StartSync,
    SyncFinished,
    SyncRecorded,
    SyncStarted,
    utcnow,
)
from entrasync_shared.subjects import CONTAINER_TYPES, Names, ObjectType
from entrasync_sim.app import build_app
from entrasync_sim.delta_text import render_memberships
from entrasync_sim.runtime import Simulator
from entrasync_sim.seed import seed_tenant
from entrasync_sim.tenants import TenantRegistry
from entrasync_syncer.adapters.graph import HttpxGraphConnector
from entrasync_syncer.domain import SELECTS, Cursor, RetryPolicy
from entrasync_syncer.ports import InfrastructureError
from entrasync_syncer.usecases.sync import Deps, RunOptions, sync_tenant
from history_fakes import FakeHistoryStore

GRAPH_URL = "https://localhost"
KINDS: dict[ObjectType, str] = {
    "user": "users",
    "group": "groups",
    "device": "devices",
    # A container other than groups (issue 20): its members are kept exactly as a group's.
    "administrativeUnit": "administrativeUnits",
    # The built-in roles with their members (effective membership, issue 20.4).
    "directoryRole": "directoryRoles",
}
# Group members entrasync does not sync as objects: typed references only (issue 17.4).
OTHER_KINDS: dict[str, str] = {"servicePrincipal": "servicePrincipals", "orgContact": "contacts"}
Message = SyncStarted | ObservationBatch | SyncFinished


class SyncerKilled(InfrastructureError):
    """The syncer died right after a publish: as when NATS fails it, the run stops at once (the
    other types' tasks are cancelled) and its command is redelivered."""


@dataclass
class RecordingPublisher:
    """history's EventPublisher in front of a stream with a duplicate window: a repeated id is
    dropped as JetStream's `Nats-Msg-Id` dedupe would. `crash_next` kills history before the
    next publish (nothing of that message reached the stream)."""

    stream: list[OutgoingEvent] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    crash_next: bool = False

    async def publish(self, events: Any) -> None:
        if self.crash_next:
            self.crash_next = False
            raise ConnectionError("history killed before it published")
        for event in events:
            if event.msg_id not in self.ids:
                self.ids.add(event.msg_id)
                self.stream.append(event)


class CrashingStore(FakeHistoryStore):
    """The inventory store; `crash_next` makes the next commit fail (history killed after it
    published a batch's events and before it committed the batch)."""

    crash_next = False

    def _crash(self) -> None:
        if self.crash_next:
            self.crash_next = False
            raise ConnectionError("history killed before its commit")

    async def commit_batch(self, *args: Any, **kwargs: Any) -> Any:
        self._crash()
        return await super().commit_batch(*args, **kwargs)

    async def commit_finish(self, *args: Any, **kwargs: Any) -> Any:
        self._crash()
        return await super().commit_finish(*args, **kwargs)


@dataclass
class Pipeline:
    """The syncer's RunPublisher over an in-memory pipeline stream; `kill_after` publishes of
    this attempt, the syncer dies (that publish was acknowledged, nothing after it happens)."""

    queue: list[tuple[Message, int]] = field(default_factory=list)
    kill_after: int | None = None
    published: int = 0

    def _put(self, message: Message) -> None:
        self.queue.append((message, 1))
        self.published += 1
        if self.kill_after is not None and self.published >= self.kill_after:
            self.kill_after = None
            raise SyncerKilled

    async def started(self, event: SyncStarted) -> None:
        self._put(event)

    async def batch(self, batch: ObservationBatch) -> None:
        self._put(batch)

    async def finished(self, event: SyncFinished) -> None:
        self._put(event)


@dataclass
class MemoryCursors:
    links: dict[tuple[str, str], Cursor] = field(default_factory=dict)

    async def get(self, tenant_id: str, object_type: ObjectType) -> Cursor | None:
        return self.links.get((tenant_id, object_type))

    async def put(
        self, tenant_id: str, object_type: ObjectType, delta_link: str, scope: str = ""
    ) -> None:
        self.links[(tenant_id, object_type)] = Cursor(delta_link, datetime.now(UTC), scope)

    async def discard(self, tenant_id: str, object_type: ObjectType) -> None:
        self.links.pop((tenant_id, object_type), None)


class NoDeletions:
    """config never deletes the tenant here (leases are not used either: one run at a time)."""

    def deleted(self, tenant_id: str) -> bool:
        return False


@dataclass
class SimulatorTokens:
    """Client-credentials tokens from the simulator's own token endpoint."""

    http: httpx.AsyncClient
    tenant: str
    client_id: str
    secret: str

    async def token(self, credential: Credential, *, fresh: bool = False) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.secret,
            "scope": f"{GRAPH_URL}/.default",
        }
        response = await self.http.post(f"/{self.tenant}/oauth2/v2.0/token", data=form)
        response.raise_for_status()
        return str(response.json()["access_token"])


@dataclass
class RoundOutcome:
    finished: SyncFinished | None
    recorded: SyncRecorded | None
    attempts: int


class World:
    """One simulated tenant, one syncer and one history, wired in-process."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        simulator: Simulator,
        graph: Any,
    ) -> None:
        self.http = http
        self.simulator = simulator
        tenant = next(iter(simulator.tenants))
        self.tid = tenant.tenant_id
        app = next(iter(tenant.apps.values()))
        self.credential = Credential(
            tenant_id="t1",
            tenant=tenant.domain,
            client_id=app.client_id,
            client_secret=app.client_secret or "",
            cloud=CloudEndpoints(name="sim", authority_host=GRAPH_URL, graph_url=GRAPH_URL),
            object_types=tuple(KINDS),
        )
        self.tokens = SimulatorTokens(http, self.tid, app.client_id, app.client_secret or "")
        self.graph = graph
        self.cursors = MemoryCursors()
        self.pipeline = Pipeline()
        self.store = CrashingStore()
        self.events = RecordingPublisher()
        self.ctx = Context(
            self.store,
            self.events,
            Names(),
            GuardrailPolicy(max_ratio=1.0, min_objects=1_000_000),
            finish_max_waits=1_000_000,
        )
        self.runs = 0
        self.recorded: dict[str, SyncRecorded] = {}

    # -- the simulated directory, through the simulator's control API ----------------------

    async def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"/_control{path}", **kwargs)

    async def mutate(self, operations: list[dict[str, Any]]) -> list[str] | None:
        """Apply a batch of directory operations: the ids they touched, None when refused."""
        body = {"operations": operations}
        response = await self.control("POST", f"/tenants/{self.tid}/mutations", json=body)
        return list(response.json()["ids"]) if response.status_code == 200 else None

    async def truth(self) -> dict[str, list[dict[str, Any]]]:
        response = await self.control("GET", f"/tenants/{self.tid}/state")
        response.raise_for_status()
        result: dict[str, list[dict[str, Any]]] = response.json()
        return result

    # -- runs --------------------------------------------------------------------------------

    def deps(self) -> Deps:
        return Deps(
            credentials=_OneCredential(self.credential),
            tokens=self.tokens,
            graph=self.graph,
            cursors=self.cursors,
            publisher=self.pipeline,
            leases=None,  # type: ignore[arg-type]
            deletions=NoDeletions(),
            options=RunOptions(max_batch_bytes=2048),
        )

    async def sync(self, mode: str, kill_after: int | None) -> tuple[str, SyncFinished, int]:
        """Run one command to its end; a killed attempt is redelivered as the next attempt."""
        self.runs += 1
        run_id = f"run{self.runs}"
        command = StartSync(
            run_id=run_id,
            tenant_id="t1",
            mode=mode,  # type: ignore[arg-type]
            reason="flag" if mode == "full" else "schedule",
            object_types=tuple(KINDS),
        )
        attempt = 1
        self.pipeline.kill_after = kill_after
        self.pipeline.published = 0
        while True:
            try:
                return run_id, await sync_tenant(command, self.deps(), attempt), attempt
            except SyncerKilled:
                attempt += 1
                self.pipeline.published = 0

    async def deliver(self, crashes: set[int]) -> None:
        """Deliver the pipeline stream to history as its durable does: in stream order, one
        unacked message at a time (`max_ack_pending=1`).

        Delivery number n in `crashes` kills history: after its commit and before its events
        were published (even n), or before its commit (odd n). The message stays unacked and,
        since JetStream delivers nothing later while it waits, comes back first (after
        `ack_wait`). A finish whose batches are missing is nakked and keeps its slot too.
        """
        backlog = self.pipeline.queue
        self.pipeline.queue = []
        n = 0
        while backlog:
            message, deliveries = backlog.pop(0)
            n += 1
            crash = "after" if n in crashes and n % 2 else "before" if n in crashes else None
            if not await self._handle(message, deliveries, crash):
                backlog.insert(0, (message, deliveries + 1))
            if n > 10_000:
                raise AssertionError("the pipeline never drained")

    async def drain(self) -> None:
        """Deliver everything still queued, with no crash: no finish is left held (its
        batches came before it)."""
        await self.deliver(set())
        assert not self.store.held, f"finishes held for ever: {sorted(self.store.held)}"

    async def _handle(self, message: Message, deliveries: int, crash: str | None) -> bool:
        """True when history acked the message (as its pipeline handler would)."""
        now = utcnow()
        if isinstance(message, SyncStarted):
            await record_started(self.ctx, message)
            return True
        self.events.crash_next = crash == "before"
        self.store.crash_next = crash == "after"
        try:
            if isinstance(message, ObservationBatch):
                await apply_batch(self.ctx, message, now)
                done = await retry_held(self.ctx, now, tenant_id=message.tenant_id)
            else:
                recorded = await finish_or_hold(self.ctx, message, deliveries, now)
                done = [recorded] if recorded is not None else []  # else held, and acked
        except ConnectionError:
            return False
        finally:
            self.events.crash_next = self.store.crash_next = False
        self.recorded.update((r.run_id, r) for r in done)
        return True

    # -- what history holds ------------------------------------------------------------------

    def inventory(self) -> dict[str, dict[str, dict[str, Any]]]:
        result: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in KINDS}
        for (object_type, object_id), obj in self.store.objects.items():
            if obj.live:
                entry = dict(obj.attributes)
                if object_type in CONTAINER_TYPES:
                    entry["members"] = sorted(member_id(m) for m in obj.members)
                    entry["memberTypes"] = obj.typed_members()
                result[object_type][object_id] = entry
        return result


def member_id(reference: str) -> str:
    """A member's id, whether the inventory stores bare ids or typed references."""
    return reference.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


@dataclass
class _OneCredential:
    value: Credential

    async def credential(self, tenant_id: str) -> Credential:
        return self.value


@asynccontextmanager
async def world(
    users: int,
    groups: int,
    devices: int,
    page_size: int,
    member_slice: int,
    seed: int,
) -> AsyncIterator[World]:
    """A fresh simulator with one small seeded tenant, and the syncer and history reading it."""
    tenant = seed_tenant(random.Random(seed), 0, users, groups, devices, certificates=False)
    simulator = Simulator(TenantRegistry([tenant]))
    simulator.settings.page_size = page_size
    simulator.settings.member_slice = member_slice
    render_memberships(tenant.directory, member_slice)
    app = build_app(simulator)

    async def sleep(seconds: float) -> None:
        simulator.clock.advance(seconds)  # a Retry-After passes in simulated time only

    policy = RetryPolicy(max_attempts=10, backoff_base=0.5, backoff_cap=4, max_retry_after=600)
    graph = HttpxGraphConnector(policy, 5, sleep=sleep, transport=httpx.ASGITransport(app=app))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=GRAPH_URL) as http:
        try:
            yield World(http, simulator, graph)
        finally:
            await graph.aclose()


def differences(
    inventory: dict[str, dict[str, dict[str, Any]]], truth: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """How the inventory differs from the simulator's truth: ids, every selected attribute
    (absent = null) and group members."""
    problems: list[str] = []
    for object_type, kind in KINDS.items():
        expected = {obj["id"]: obj for obj in truth[kind]}
        stored = inventory[object_type]
        problems += [f"{object_type} {i} missing" for i in sorted(set(expected) - set(stored))]
        problems += [f"{object_type} {i} not live" for i in sorted(set(stored) - set(expected))]
        names = [n for n in SELECTS[object_type] if n != "id"]
        for object_id in sorted(set(expected) & set(stored)):
            for name in names:
                want, got = expected[object_id].get(name), stored[object_id].get(name)
                if name == "members":
                    want = sorted(want or [])
                if want != got:
                    problems.append(f"{object_type} {object_id}.{name}: {got!r}, truth {want!r}")
            if object_type in CONTAINER_TYPES:
                want, got = expected[object_id].get("memberTypes"), stored[object_id]["memberTypes"]
                if want != got:
                    problems.append(f"{object_type} {object_id} types: {got!r}, truth {want!r}")
    return problems
