"""A 10,000-member group: its `members@delta` slices span many entries and pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from entrasync_shared.messages import Credential
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

MEMBERS = 10_000


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    # 500 members per entry (Graph's observed slice), 200 entries per page.
    with SimulatorProcess(
        users=MEMBERS + 50, groups=3, devices=5, page_size=200, seed=5
    ) as process:
        yield process


async def test_a_10k_member_group_split_across_pages_arrives_whole(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    control.configure(member_slice=500, page_size=15)
    users = sorted(u["id"] for u in control.truth(sim_tenant, "users"))[:MEMBERS]
    operations = [{"op": "create", "type": "group", "attrs": {"displayName": "Everyone"}}]
    operations += [{"op": "add_member", "group_id": "$0", "member_id": u} for u in users]
    big = control.mutate(sim_tenant, operations)[0]
    credentials["tb"] = simulator_credential(sim, "tb")

    command = await send_command(nc, names, "tb", "full", object_types=("group",))
    run = await watcher.run(command.run_id, within=60)

    assert_matches_truth(run, control.state(sim_tenant), ("group",))
    carrying = [b.seq for b in run.of("group") if any(o.id == big for o in b.objects)]
    assert len(carrying) >= 2, "the group should straddle pages"
    assert merged_objects(run.of("group"))[big]["added"] == set(users)
    assert run.result("group").total == len(control.truth(sim_tenant, "groups"))
