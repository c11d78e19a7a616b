"""The syncer passes each member's type through (issue 17, point 4): service principals and
organisational contacts in groups reach the batches typed, in full and delta rounds."""

from typing import Any

from entrasync_shared.members import member_type
from entrasync_shared.messages import Credential, ObservationBatch
from entrasync_shared.subjects import Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from syncer_helpers import (
    PipelineWatcher,
    assert_matches_truth,
    merged_objects,
    send_command,
    simulator_credential,
)


def typed_removals(batches: list[ObservationBatch]) -> dict[str, str]:
    found: dict[str, str] = {}
    for batch in batches:
        for obj in batch.objects:
            codes = obj.members_removed_types or "?" * len(obj.members_removed)
            found |= {m: member_type(c) for m, c in zip(obj.members_removed, codes, strict=True)}
    return found


async def test_service_principals_and_contacts_reach_the_batches_typed(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tm1"] = simulator_credential(sim, "tm1")
    truth: dict[str, Any] = control.state(sim_tenant)
    kinds = {t for g in truth["groups"] for t in g["memberTypes"].values()}
    assert {"servicePrincipal", "orgContact", "user"} <= kinds

    full = await watcher.run((await send_command(nc, names, "tm1", "full")).run_id)
    assert_matches_truth(full, truth)  # members and their types

    group = next(g for g in truth["groups"] if "orgContact" in g["memberTypes"].values())
    sp = next(s["id"] for s in truth["servicePrincipals"] if s["id"] not in group["members"])
    contact = next(c["id"] for c in truth["contacts"] if c["id"] not in group["members"])
    leaving = [m for m, t in group["memberTypes"].items() if t == "orgContact"]
    control.change_members(sim_tenant, group["id"], add=[sp, contact], remove=leaving)

    command = await send_command(nc, names, "tm1", "delta", reason="schedule")
    run = await watcher.run(command.run_id)

    merged = merged_objects(run.of("group"))[group["id"]]
    assert merged["types"] == {sp: "servicePrincipal", contact: "orgContact"}
    assert typed_removals(run.of("group")) == dict.fromkeys(leaving, "orgContact")
