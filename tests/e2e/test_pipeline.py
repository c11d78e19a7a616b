"""A tenant registered through the config API is synced in full, then kept current by delta runs,
and the public change events describe exactly what changed in the directory."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from e2e_helpers import (
    differences,
    eventually,
    live_inventory,
    read_events,
    register,
    stream_last_seq,
)
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from pymongo import MongoClient

pytestmark = pytest.mark.timeout(240)


async def recorded_runs(
    bus: NatsClient, stack: ServiceStack, tenant_id: str
) -> list[dict[str, Any]]:
    names = stack.names
    events = await read_events(bus.jetstream(), names.events_stream, names.sync_recorded(tenant_id))
    return [event["data"] for event in events]


def summarize(events: list[dict[str, Any]]) -> dict[tuple[str, str, str], Any]:
    """(type, object id, change) → what the events said, merged per object."""
    summary: dict[tuple[str, str, str], Any] = {}
    members: dict[tuple[str, str, str], dict[str, set[str]]] = defaultdict(
        lambda: {"added": set(), "removed": set()}
    )
    for event in events:
        data = event["data"]
        change = event["type"].rsplit(".", 1)[1]
        key = (data["object_type"], data["object_id"], change)
        if change == "members_changed":
            members[key]["added"] |= set(data["added"])
            members[key]["removed"] |= set(data["removed"])
            summary[key] = members[key]
        elif change == "updated":
            summary[key] = sorted(data["changed"])
        elif change == "deleted":
            summary[key] = "soft" if data["soft"] else "hard"
        else:
            assert key not in summary, f"two {change} events for {key}"
            summary[key] = True
    return summary


async def test_a_registered_tenant_converges_and_reports_exactly_its_changes(
    infra: LocalInfra,
    sim: SimulatorProcess,
    control: SimulatorControl,
    stack: ServiceStack,
    bus: NatsClient,
) -> None:
    js, names = bus.jetstream(), stack.names
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    history_db = stack.env["ENTRASYNC_HISTORY_DB"]
    sim_tenant = sim.tenants[0]["tenant_id"]

    # 1. register → a first full run, recorded as Succeeded, and an inventory equal to the truth
    tenant = await register(bus, stack, sim.tenants[0], interval_seconds=10)

    async def first_run() -> dict[str, Any] | None:
        runs = await recorded_runs(bus, stack, tenant.id)
        return runs[0] if runs else None

    first = await eventually(first_run, "the first recorded run")
    assert (first["mode"], first["status"]) == ("full", "Succeeded"), first
    truth = control.state(sim_tenant)
    assert differences(live_inventory(mongo, history_db, tenant.id), truth) == []
    created = summarize(await read_events(js, names.events_stream, names.directory_events))
    expected_created = {
        (object_type, obj["id"], "created")
        for object_type, kind in (("user", "users"), ("group", "groups"), ("device", "devices"))
        for obj in truth[kind]
    }
    assert {key for key in created if key[2] == "created"} == expected_created
    assert not [key for key in created if key[2] in ("updated", "deleted")]

    # 2. nothing changed → the next (delta) run publishes no object events
    checkpoint = await stream_last_seq(js, names.events_stream)

    async def second_run() -> dict[str, Any] | None:
        runs = await recorded_runs(bus, stack, tenant.id)
        return runs[1] if len(runs) > 1 else None

    second = await eventually(second_run, "a second recorded run")
    assert (second["mode"], second["status"]) == ("delta", "Succeeded"), second
    assert await read_events(js, names.events_stream, names.directory_events, checkpoint) == []

    # 3. change the directory: create, update, soft-delete, hard-delete, membership edits
    checkpoint = await stream_last_seq(js, names.events_stream)
    users = [u["id"] for u in truth["users"]]
    groups = {g["id"]: set(g["members"]) for g in truth["groups"]}
    grouped = sorted({m for members in groups.values() for m in members} & set(users))
    target_group = next(g for g, members in groups.items() if members)
    leaving = sorted(groups[target_group])[0]
    hard_deleted = next(u for u in grouped if u != leaving)
    soft_deleted, updated = [u for u in users if u not in grouped and u != leaving][:2]
    untouched = set(users) - {hard_deleted, soft_deleted, updated}
    joining = sorted(untouched - groups[target_group])[0]
    device = truth["devices"][0]["id"]
    changed_at = datetime.now(UTC)

    new_user = control.create(sim_tenant, "users", {"displayName": "Ada Lovelace"})["id"]
    control.update(sim_tenant, "users", updated, {"jobTitle": "Chief Analyst", "displayName": "X"})
    control.delete(sim_tenant, "users", soft_deleted)
    control.delete(sim_tenant, "users", hard_deleted, hard=True)
    control.delete(sim_tenant, "devices", device)
    control.change_members(sim_tenant, target_group, add=[joining], remove=[leaving])
    after = control.state(sim_tenant)

    async def converged_run() -> dict[str, Any] | None:
        for run in await recorded_runs(bus, stack, tenant.id):
            started = datetime.fromisoformat(run["started_at"])
            if started > changed_at and run["status"] == "Succeeded":
                return run
        return None

    await eventually(converged_run, "a succeeded run that started after the changes")
    assert differences(live_inventory(mongo, history_db, tenant.id), after) == []

    # 4. the events since the checkpoint describe exactly those changes, no more
    events = await read_events(js, names.events_stream, names.directory_events, checkpoint)
    expected: dict[tuple[str, str, str], Any] = {
        ("user", new_user, "created"): True,
        ("user", updated, "updated"): ["displayName", "jobTitle"],
        ("user", soft_deleted, "deleted"): "soft",
        ("user", hard_deleted, "deleted"): "hard",
        ("device", device, "deleted"): "hard",
    }
    for group_id, before in groups.items():
        now = set(next(g["members"] for g in after["groups"] if g["id"] == group_id))
        if now != before:
            expected[("group", group_id, "members_changed")] = {
                "added": now - before,
                "removed": before - now,
            }
    assert summarize(events) == expected
    mongo.close()
