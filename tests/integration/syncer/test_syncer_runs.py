from entrasync_shared.messages import Credential
from entrasync_shared.subjects import Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from syncer_helpers import (
    SIM_KINDS,
    TYPES,
    PipelineWatcher,
    assert_matches_truth,
    merged_objects,
    removals_of,
    send_command,
    simulator_credential,
    stored_link,
)


async def test_a_full_run_publishes_the_whole_tenant_and_stores_cursors(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tn1"] = simulator_credential(sim, "tn1")
    truth = control.state(sim_tenant)

    command = await send_command(nc, names, "tn1", "full", reason="first")
    run = await watcher.run(command.run_id)

    assert [(s.run_id, s.mode, s.reason) for s in run.started] == [
        (command.run_id, "full", "first")
    ]
    assert run.finished is not None and run.finished.status == "Succeeded"
    assert run.finished.id == f"{command.run_id}:finished"
    assert_matches_truth(run, truth)
    # 60 users, 25 a page, and groups' pages (member slices of 2): each type's pages share
    # one batch, far below its size limit, and the finish counts it.
    assert len(run.of("user")) == 1 and len(run.of("group")) == 1
    assert {r.object_type: r.batches for r in run.finished.results}["user"] == 1
    assert all(
        b.mode == "full" and b.id == f"{command.run_id}:{b.object_type}:{b.seq}"
        for b in run.batches
    )
    for object_type in TYPES:
        link = await stored_link(nc, names, "tn1", object_type)
        assert link.startswith(f"{sim.graph_url}/v1.0/{SIM_KINDS[object_type]}/delta?")


async def test_a_delta_run_reports_exactly_what_changed(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tn2"] = simulator_credential(sim, "tn2")
    first = await send_command(nc, names, "tn2", "full")
    await watcher.run(first.run_id)
    truth = control.state(sim_tenant)
    members = {g["id"]: set(g["members"]) for g in truth["groups"]}
    grouped = set().union(*members.values())
    user_ids = [u["id"] for u in truth["users"]]
    group_id = next(g for g, m in members.items() if m & set(user_ids))
    leaver = sorted(members[group_id] & set(user_ids))[0]
    updated, deleted = [u for u in user_ids if u != leaver][:2]
    lone_device = next(d["id"] for d in truth["devices"] if d["id"] not in grouped)

    new_user = control.create(
        sim_tenant,
        "users",
        {"displayName": "New Person", "userPrincipalName": "new.person@example.test"},
    )
    control.update(sim_tenant, "users", updated, {"jobTitle": "Chief Tester", "department": None})
    control.delete(sim_tenant, "users", deleted)
    control.delete(sim_tenant, "devices", lone_device)
    control.change_members(sim_tenant, group_id, add=[new_user["id"]], remove=[leaver])

    command = await send_command(nc, names, "tn2", "delta", reason="schedule")
    run = await watcher.run(command.run_id)

    users, groups = merged_objects(run.of("user")), merged_objects(run.of("group"))
    assert users.keys() == {new_user["id"], updated}
    assert users[new_user["id"]]["attributes"]["displayName"] == "New Person"
    assert users[updated]["attributes"]["jobTitle"] == "Chief Tester"
    assert users[updated]["attributes"]["department"] is None
    assert removals_of(run.of("user")) == {deleted: "changed"}
    assert groups.keys() == {group_id}
    assert (groups[group_id]["added"], groups[group_id]["removed"]) == (
        {new_user["id"]},
        {leaver},
    )
    assert merged_objects(run.of("device")) == {}
    assert removals_of(run.of("device")) == {lone_device: "deleted"}
    assert all(b.mode == "delta" for b in run.batches)
    for object_type in TYPES:
        result = run.result(object_type)
        assert (result.mode, result.reason, result.status) == ("delta", "schedule", "Succeeded")
    assert (run.result("user").total, run.result("group").total) == (2, 1)


async def test_a_delta_run_without_cursors_falls_back_to_full(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tn3"] = simulator_credential(sim, "tn3")
    truth = control.state(sim_tenant)

    command = await send_command(nc, names, "tn3", "delta", reason="schedule")
    run = await watcher.run(command.run_id)

    assert_matches_truth(run, truth)
    for object_type in TYPES:
        assert (run.result(object_type).mode, run.result(object_type).reason) == (
            "full",
            "resync",
        )
    assert all(b.mode == "full" for b in run.batches)
    assert run.finished is not None and (run.finished.mode, run.finished.reason) == (
        "delta",
        "schedule",
    )
