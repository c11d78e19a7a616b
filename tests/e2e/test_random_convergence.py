"""Randomised convergence through the real services (issue 17.12): a few seeded sequences of
directory changes, with Graph's delta quirks and 429s on, each followed by a run; after every
run the inventory equals the simulator's truth, an unchanged run publishes no directory event,
and each object's events replayed from the start give its inventory state.

The many generated sequences (with kills and late redeliveries) run in-process in
tests/unit/history/test_history_convergence_random.py; this keeps a few on the real stack.
Each sequence gets its own small tenant, added to the simulator while it runs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import (
    differences,
    live_inventory,
    read_events,
    register,
    run_now,
    stream_last_seq,
)
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from pymongo import MongoClient

pytestmark = pytest.mark.timeout(300)

SEEDS = (1, 2, 3)
KINDS = ("users", "groups", "devices")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    extra = ("--member-slice", "2", "--duplicates", "0.2", "--replays", "0.2")
    with SimulatorProcess(users=4, groups=2, devices=2, page_size=3, seed=5, extra_args=extra) as s:
        yield s


class Sequence:
    """One seeded sequence against one fresh tenant of the running simulator."""

    def __init__(self, seed: int, control: SimulatorControl, entry: dict[str, Any]) -> None:
        self.rng = random.Random(seed)
        self.control = control
        self.tid = entry["tenant_id"]
        self.n = 0

    def ids(self, kind: str) -> list[str]:
        return sorted(o["id"] for o in self.control.state(self.tid)[kind])

    def change(self) -> None:
        """One to three random changes (any the directory refuses change nothing)."""
        rng = self.rng
        for _ in range(rng.randint(1, 3)):
            ops: list[dict[str, Any]] = []
            self.n += 1
            choice = rng.choice(["create", "update", "clear", "delete", "member", "big_group"])
            kind = rng.choice(KINDS)
            live = self.ids(kind)
            if choice == "create" or not live:
                attrs = {"displayName": f"Made {self.n}"}
                ops.append({"op": "create", "type": kind, "attrs": attrs})
            elif choice == "update":
                attrs = {"displayName": f"Renamed {self.n}"}
                ops.append({"op": "update", "type": kind, "id": rng.choice(live), "attrs": attrs})
            elif choice == "clear" and kind == "users":
                attrs = {"jobTitle": None}
                ops.append({"op": "update", "type": kind, "id": rng.choice(live), "attrs": attrs})
            elif choice == "delete":
                op = rng.choice(["soft_delete", "hard_delete"])
                ops.append({"op": op, "type": kind, "id": rng.choice(live)})
            elif choice in ("member", "big_group") and self.ids("groups") and self.ids("users"):
                group = rng.choice(self.ids("groups"))
                users = rng.sample(self.ids("users"), min(len(self.ids("users")), 5))
                ops += [{"op": "add_member", "group_id": group, "member_id": u} for u in users]
            if ops:
                self.apply(ops)

    def apply(self, ops: list[dict[str, Any]]) -> None:
        try:
            self.control.mutate(self.tid, ops)
        except Exception as exc:  # a refused batch (e.g. a member already in) changes nothing
            assert "409" in str(exc) or "404" in str(exc) or "400" in str(exc), exc


def replay(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each object's state from its events alone; an event its state already shows fails."""
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        data, kind = event["data"], event["type"].rsplit(".", 1)[1]
        obj = state.setdefault(
            (data["object_type"], data["object_id"]), {"live": False, "attrs": {}, "members": set()}
        )
        if kind == "created":
            assert not obj["live"], event
            obj.update(
                live=True, attrs={k: v for k, v in data["attributes"].items() if v is not None}
            )
        elif kind == "updated":
            assert obj["live"] or data["restored"], event
            for name, value in data["changed"].items():
                assert obj["attrs"].get(name) != value, event
                if value is None:
                    obj["attrs"].pop(name, None)
                else:
                    obj["attrs"][name] = value
            obj["live"] = True
        elif kind == "deleted":
            assert obj["live"] or data["reason"] == "removed", event
            obj["live"] = False
        else:
            added, removed = set(data["added"]), set(data["removed"])
            assert not added & obj["members"] and removed <= obj["members"], event
            obj["members"] = (obj["members"] | added) - removed
    return state


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_seeded_sequence_of_changes_under_quirks_and_429s_converges_exactly(
    seed: int,
    infra: LocalInfra,
    control: SimulatorControl,
    stack: ServiceStack,
    bus: NatsClient,
) -> None:
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    try:
        await play(seed, mongo, stack.env["ENTRASYNC_HISTORY_DB"], control, stack, bus)
    finally:
        mongo.close()


async def play(
    seed: int,
    mongo: MongoClient[dict[str, Any]],
    history_db: str,
    control: SimulatorControl,
    stack: ServiceStack,
    bus: NatsClient,
) -> None:
    js, names = bus.jetstream(), stack.names
    entry = control.add_tenant(users=4, groups=2, devices=2)
    control.set_delta_quirks(entry["tenant_id"], duplicates=0.2, replays=0.2, empty_pages=0.2)
    sequence = Sequence(seed, control, entry)
    tenant = await register(bus, stack, entry)
    start = await stream_last_seq(js, names.events_stream)

    def exact() -> list[str]:
        truth = control.state(entry["tenant_id"])
        return differences(live_inventory(mongo, history_db, tenant.id), truth)

    await run_now(bus, stack, tenant.id)
    for step in range(6):
        sequence.change()
        if sequence.rng.random() < 0.3:
            control.inject_fault("*/delta", status=429, count=2, retry_after="1")
        if step == 3:
            control.reset_tenant(entry["tenant_id"])  # the next run reads every type in full
        assert (await run_now(bus, stack, tenant.id))["status"] == "Succeeded"
        assert exact() == [], f"seed {seed}, step {step}"

    quiet = await stream_last_seq(js, names.events_stream)
    await run_now(bus, stack, tenant.id)
    control.reset_tenant(entry["tenant_id"])
    await run_now(bus, stack, tenant.id)
    mine = [
        e
        for e in await read_events(js, names.events_stream, names.directory_events, start)
        if e["data"]["tenant_id"] == tenant.id
    ]
    unchanged = await read_events(js, names.events_stream, names.directory_events, quiet)
    assert [e for e in unchanged if e["data"]["tenant_id"] == tenant.id] == []
    assert len({e["id"] for e in mine}) == len(mine)
    state = replay(mine)
    for object_type, objects in live_inventory(mongo, history_db, tenant.id).items():
        for object_id, stored in objects.items():
            replayed = state[(object_type, object_id)]
            members = set(stored.pop("members", []))
            stored.pop("memberTypes", None)  # the members' types, not an attribute
            assert replayed["live"], (object_type, object_id)
            attrs = {k: v for k, v in stored.items() if v is not None}
            assert (replayed["attrs"], replayed["members"] or set()) == (attrs, members or set())
