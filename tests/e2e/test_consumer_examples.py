"""The consumer examples of docs/consuming-events.md read the events a real sync published: each
event once, and acknowledged (the durable holds nothing unacked when the example exits), a
durable resumes where it stopped, a replay starts at a given time, and every event names its
Entra directory (`entratenantid`), although the tenant was registered by domain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import nats
import pytest
from consumer_examples import EXAMPLES, go_command, go_requested, node_command, python_command
from e2e_helpers import eventually, run_now, stored_messages
from entrasync_devtools.stack import ServiceStack
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    Tenant,
    TenantCreate,
)
from entrasync_shared.natsutil import call
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    """Smaller than the other end-to-end tests' directory: these need events, not volume."""
    with SimulatorProcess(users=12, groups=3, devices=4, page_size=10, seed=11) as s:
        yield s


@dataclass(frozen=True)
class Published:
    """A tenant registered by domain whose first full sync has been published."""

    tenant: Tenant
    directory: str
    sim_tenant: str
    users: tuple[str, ...]


@pytest.fixture(scope="module")
async def bus(stack: ServiceStack) -> AsyncIterator[NatsClient]:
    client = await nats.connect(stack.nats_url)
    yield client
    await client.drain()


@pytest.fixture(scope="module")
async def published(
    stack: ServiceStack, sim: SimulatorProcess, control: SimulatorControl, bus: NatsClient
) -> Published:
    app = sim.tenants[0]
    create = CredentialProfileCreate(
        name="examples", client_id=app["client_id"], client_secret=app["client_secret"]
    )
    profile = await call(
        bus, stack.names.api("config", "profile.create"), create, CredentialProfile
    )
    tenant = await call(
        bus,
        stack.names.api("config", "tenant.create"),
        TenantCreate(
            tenant=app["domain"], cloud="simlab", profile_id=profile.id, interval_seconds=3600
        ),
        Tenant,
    )
    directory = str(app["tenant_id"]).lower()
    assert app["domain"] != directory  # the GUID must come from the sync, not the policy

    async def first_run() -> list[Stored]:
        return await stored(bus, stack.names.events_stream, stack.names.sync_recorded_all)

    await eventually(first_run, "the first recorded run")
    users = tuple(sorted(u["id"] for u in control.state(app["tenant_id"])["users"]))
    return Published(tenant, directory, app["tenant_id"], users)


@dataclass(frozen=True)
class Stored:
    """An event as the stream keeps it: sequence, store time and CloudEvents JSON."""

    seq: int
    at: datetime
    event: dict[str, Any]


async def stored(bus: NatsClient, stream: str, subject: str) -> list[Stored]:
    """Everything `stream` holds on `subject` now, read by an ephemeral consumer."""
    js = bus.jetstream()
    last = int((await js.stream_info(stream)).state.last_seq)
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE)
    found = await stored_messages(js, stream, subject, config, last)
    meta = [(m.metadata, m.data) for m in found]
    return [Stored(md.sequence.stream, md.timestamp, json.loads(d)) for md, d in meta]


def ids(events: list[dict[str, Any]] | list[Stored]) -> list[str]:
    return [e.event["id"] if isinstance(e, Stored) else e["id"] for e in events]


@dataclass(frozen=True)
class Example:
    """One language's example, run as a user would, against the stack's installation."""

    command: list[str]
    nats_url: str
    prefix: str

    async def read(self, durable: str, *extra: str) -> list[dict[str, Any]]:
        """Run the example until it has been idle for 2 s; the events it printed."""
        process = await asyncio.create_subprocess_exec(
            *self.command,
            *("--server", self.nats_url, "--prefix", self.prefix, "--durable", durable),
            *("--idle-exit", "2", *extra),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, f"{self.command}: {err.decode()[-3000:]}"
        return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


@dataclass(frozen=True)
class System:
    """The running system and a directory synced through it."""

    stack: ServiceStack
    bus: NatsClient
    control: SimulatorControl
    published: Published


@pytest.fixture
def system(
    stack: ServiceStack, bus: NatsClient, control: SimulatorControl, published: Published
) -> System:
    return System(stack, bus, control, published)


async def acknowledged(bus: NatsClient, stream: str, durable: str, through: int) -> None:
    """The example, now exited, acknowledged every event it was given, through stream sequence
    `through`. Reading alone can't tell: its ack wait is 60 s, so an event it never acked would
    not come again within the test (and a later read would look right)."""
    info = await bus.jetstream().consumer_info(stream, durable)
    assert info.num_ack_pending == 0, f"{durable}: {info.num_ack_pending} events never acked"
    assert info.ack_floor.stream_seq is not None and info.ack_floor.stream_seq >= through, (
        f"{durable} acknowledged up to {info.ack_floor.stream_seq}, read up to {through}"
    )


async def check_example(example: Example, durable: str, system: System) -> None:
    names, bus, published = system.stack.names, system.bus, system.published

    async def kept() -> list[Stored]:
        return await stored(bus, names.events_stream, names.directory_events)

    async def read_and_acked(name: str, through: int, *extra: str) -> list[dict[str, Any]]:
        events = await example.read(name, *extra)
        await acknowledged(bus, names.events_stream, name, through)
        return events

    # 1. a new durable reads every event kept, each exactly once, in the stream's order
    before = await kept()
    first = await read_and_acked(durable, before[-1].seq)
    assert len(before) >= len(published.users)
    assert ids(first) == ids(before)
    assert {e["entratenantid"] for e in first} == {published.directory}
    assert {e["specversion"] for e in first} == {"1.0"}
    assert all(e["source"] == f"/entrasync/tenants/{published.tenant.id}" for e in first)

    # 2. a change in the directory: the durable resumes and reads only the new event
    mark = datetime.now(UTC)
    user = published.users[len(before) % len(published.users)]
    system.control.update(published.sim_tenant, "users", user, {"jobTitle": f"reads {durable}"})
    await run_now(bus, system.stack, published.tenant.id)  # not the next hourly run

    async def update_kept() -> list[Stored]:
        return [e for e in await kept() if e.at >= mark and e.event["subject"] == user]

    (update,) = await eventually(update_kept, f"the update event of user {user}")
    assert update.event["type"] == "io.entrasync.directory.user.updated"
    resumed = await read_and_acked(durable, update.seq)
    assert ids(resumed) == [update.event["id"]]
    assert resumed[0]["data"]["changed"] == {"jobTitle": f"reads {durable}"}
    assert resumed[0]["entratenantid"] == published.directory
    # everything acknowledged: nothing comes again
    assert await read_and_acked(durable, update.seq) == []

    # 3. a replay from a time (a new durable with deliver_policy by_start_time)
    replayed = await read_and_acked(f"{durable}-replay", update.seq, "--since", mark.isoformat())
    assert ids(replayed) == ids([e for e in await kept() if e.at >= mark])
    assert ids(replayed) == [update.event["id"]]


def example(command: list[str], stack: ServiceStack) -> Example:
    return Example(command, stack.nats_url, stack.names.prefix)


async def test_the_python_example_reads_each_event_once_resumes_and_replays(
    system: System,
) -> None:
    await check_example(example(python_command(), system.stack), "python-app", system)


async def test_the_nodejs_example_reads_each_event_once_resumes_and_replays(
    system: System,
) -> None:
    await check_example(example(node_command(), system.stack), "node-app", system)


if go_requested():  # opt-in: `make test` installs no Go toolchain (docs/consuming-events.md)

    async def test_the_go_example_reads_each_event_once_resumes_and_replays(
        system: System,
    ) -> None:
        await check_example(example(go_command(), system.stack), "go-app", system)


def test_the_python_example_pins_the_nats_py_it_is_tested_with() -> None:
    pins = (EXAMPLES / "python" / "requirements.txt").read_text().split()
    assert f"nats-py=={version('nats-py')}" in pins
