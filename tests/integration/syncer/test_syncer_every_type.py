"""Every object type through the syncer against the simulator (issue 20): a full run of all nine
publishes exactly the simulator's truth, members of roles and units typed, and stores a delta
link per type at its Graph path (none for the eligibility schedules, which have no delta); the
delta run after reports what changed in roles, units, applications, service principals and
contacts, and lists the eligibility schedules in full as they are then."""

from typing import Any

from entrasync_shared.messages import Credential
from entrasync_shared.subjects import FULL_LIST_TYPES, GRAPH_PATHS, OBJECT_TYPES, Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from syncer_helpers import (
    PipelineWatcher,
    assert_matches_truth,
    merged_objects,
    removals_of,
    send_command,
    simulator_credential,
    stored_link,
)


async def test_every_type_is_synced_in_full_then_by_delta(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["wd1"] = simulator_credential(sim, "wd1")
    # Directory.Read.All does not read PIM's schedules
    # (rbacapplication-list-roleeligibilityschedules.md)
    control.set_permissions(
        sim_tenant,
        credentials["wd1"].client_id,
        ["Directory.Read.All", "RoleEligibilitySchedule.Read.Directory"],
    )
    truth: dict[str, Any] = control.state(sim_tenant)

    command = await send_command(nc, names, "wd1", "full", object_types=OBJECT_TYPES)
    full = await watcher.run(command.run_id, within=40)

    assert_matches_truth(full, truth, OBJECT_TYPES)
    assert [t for t in FULL_LIST_TYPES if full.result(t).pages < 1] == []
    for object_type in (t for t in OBJECT_TYPES if t not in FULL_LIST_TYPES):
        link = await stored_link(nc, names, "wd1", object_type)
        assert link.startswith(f"{sim.graph_url}/v1.0/{GRAPH_PATHS[object_type]}/delta"), link

    role = next(r for r in truth["directoryRoles"] if "user" in r["memberTypes"].values())
    leaving = next(m for m, t in role["memberTypes"].items() if t == "user")
    sp = next(s["id"] for s in truth["servicePrincipals"] if s["id"] not in role["members"])
    control.change_members(sim_tenant, role["id"], add=[sp], remove=[leaving])
    unit, contact = truth["administrativeUnits"][0]["id"], truth["contacts"][0]["id"]
    control.delete(sim_tenant, "administrativeUnits", unit)
    control.delete(sim_tenant, "contacts", contact)
    app = truth["applications"][0]["id"]
    control.update(sim_tenant, "applications", app, {"displayName": "Renamed app"})
    created = control.create(sim_tenant, "servicePrincipals", {"displayName": "New workload"})
    eligible = control.create(
        sim_tenant,
        "roleEligibilitySchedules",
        {"principalId": sp, "roleDefinitionId": role["roleTemplateId"], "directoryScopeId": "/"},
    )
    control.delete(
        sim_tenant, "roleEligibilitySchedules", truth["roleEligibilitySchedules"][0]["id"]
    )

    command = await send_command(
        nc, names, "wd1", "delta", reason="schedule", object_types=OBJECT_TYPES
    )
    delta = await watcher.run(command.run_id, within=40)

    modes = {t: "full" if t in FULL_LIST_TYPES else "delta" for t in OBJECT_TYPES}
    assert {t: delta.result(t).mode for t in OBJECT_TYPES} == modes
    assert {b.mode for b in delta.of("roleEligibility")} == {"full"}
    assert_matches_truth(delta, control.state(sim_tenant), FULL_LIST_TYPES)
    assert eligible["id"] in merged_objects(delta.of("roleEligibility"))
    changed_role = merged_objects(delta.of("directoryRole"))[role["id"]]
    assert (changed_role["types"], changed_role["removed"]) == ({sp: "servicePrincipal"}, {leaving})
    assert removals_of(delta.of("administrativeUnit")) == {unit: "changed"}
    assert removals_of(delta.of("orgContact")) == {contact: "deleted"}
    changed_app = merged_objects(delta.of("application"))[app]["attributes"]
    assert changed_app["displayName"] == "Renamed app"
    new_sp = merged_objects(delta.of("servicePrincipal"))[created["id"]]["attributes"]
    assert new_sp["displayName"] == "New workload"
