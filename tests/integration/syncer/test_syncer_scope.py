"""The group scope ("only members of given groups") read from the simulator's
`/groups/{id}/members`: what enters and leaves the scope, across full and delta rounds."""

from __future__ import annotations

from typing import Any

from entrasync_shared.messages import Credential, TenantFilters
from entrasync_shared.subjects import Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from syncer_helpers import (
    TYPES,
    PipelineWatcher,
    merged_objects,
    removals_of,
    send_command,
    simulator_credential,
)


def _scope(control: SimulatorControl, tid: str) -> dict[str, Any]:
    """A scope group holding two users, a device and a nested group (with its own member)."""
    made = control.mutate(
        tid,
        [
            # A Microsoft 365 group: only those (and users) can be soft-deleted and restored.
            {
                "op": "create",
                "type": "group",
                "attrs": {"displayName": "Scope", "groupTypes": ["Unified"]},
            },
            {"op": "create", "type": "group", "attributes": {"displayName": "Nested"}},
            {"op": "create", "type": "user", "attributes": {"displayName": "In A"}},
            {"op": "create", "type": "user", "attributes": {"displayName": "In B"}},
            {"op": "create", "type": "user", "attributes": {"displayName": "Nested only"}},
            {"op": "create", "type": "device", "attributes": {"displayName": "In laptop"}},
        ],
    )
    scope, nested, a, b, deep, laptop = made
    control.change_members(tid, scope, add=[nested, a, b, laptop])
    control.change_members(tid, nested, add=[deep])
    return {"scope": scope, "nested": nested, "a": a, "b": b, "deep": deep, "laptop": laptop}


async def test_only_direct_members_of_the_scope_groups_are_synced_and_the_rest_counted(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    ids = _scope(control, sim_tenant)
    filters = TenantFilters(member_of_groups=(ids["scope"].upper(),))
    credentials["sc1"] = simulator_credential(sim, "sc1").model_copy(update={"filters": filters})
    state = control.state(sim_tenant)

    command = await send_command(nc, names, "sc1", "full")
    run = await watcher.run(command.run_id)

    expected = {
        "user": {ids["a"], ids["b"]},
        "group": {ids["scope"], ids["nested"]},
        "device": {ids["laptop"]},
    }
    sizes = {"user": "users", "group": "groups", "device": "devices"}
    for object_type in TYPES:
        assert set(merged_objects(run.of(object_type))) == expected[object_type], object_type
        result = run.result(object_type)
        everyone = len(state[sizes[object_type]])
        assert (result.status, result.total) == ("Succeeded", len(expected[object_type]))
        assert result.filtered == everyone - len(expected[object_type])
    scope_members = merged_objects(run.of("group"))[ids["scope"]]["added"]
    assert scope_members == {ids["nested"], ids["a"], ids["b"], ids["laptop"]}


async def test_a_change_of_the_scope_membership_resyncs_and_later_deltas_stay_in_scope(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    ids = _scope(control, sim_tenant)
    filters = TenantFilters(member_of_groups=(ids["scope"],))
    credentials["sc2"] = simulator_credential(sim, "sc2").model_copy(update={"filters": filters})
    first = await send_command(nc, names, "sc2", "full", object_types=("user",))
    await watcher.run(first.run_id)

    outsider = control.create(sim_tenant, "users", {"displayName": "Joins later"})["id"]
    control.change_members(sim_tenant, ids["scope"], add=[outsider], remove=[ids["a"]])
    entered = await send_command(nc, names, "sc2", "delta", object_types=("user",))
    resync = await watcher.run(entered.run_id)

    assert (resync.result("user").mode, resync.result("user").reason) == ("full", "resync")
    assert set(merged_objects(resync.of("user"))) == {ids["b"], outsider}

    stranger = control.create(sim_tenant, "users", {"displayName": "Never in scope"})["id"]
    control.update(sim_tenant, "users", ids["b"], {"jobTitle": "Lead"})
    control.update(sim_tenant, "users", ids["a"], {"jobTitle": "Left"})
    later = await send_command(nc, names, "sc2", "delta", object_types=("user",))
    delta = await watcher.run(later.run_id)

    result = delta.result("user")
    assert (result.mode, result.status) == ("delta", "Succeeded")
    assert set(merged_objects(delta.of("user"))) == {ids["b"]}
    assert removals_of(delta.of("user")) == {ids["a"]: "changed", stranger: "changed"}
    assert result.filtered == 2


async def test_a_scope_group_that_is_gone_fails_the_run_instead_of_emptying_the_inventory(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    ids = _scope(control, sim_tenant)
    control.delete(sim_tenant, "groups", ids["scope"])
    filters = TenantFilters(member_of_groups=(ids["scope"],))
    credentials["sc3"] = simulator_credential(sim, "sc3").model_copy(update={"filters": filters})

    command = await send_command(nc, names, "sc3", "full")
    run = await watcher.run(command.run_id)

    assert run.batches == []
    for object_type in TYPES:
        result = run.result(object_type)
        assert result.status == "Failed"
        assert ids["scope"] in (result.error or "")
        assert "Request_ResourceNotFound" in (result.error or "")
    control.restore(sim_tenant, "groups", ids["scope"])
