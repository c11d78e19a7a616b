"""A directory added to a running simulator (`POST /_control/tenants`) is served like a seeded
one: listed, reachable by GUID and domain, with a working app and the asked-for objects."""

from __future__ import annotations

import pytest
from entrasync_sim.control_client import ControlError, SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from sim_helpers import acquire_graph_token, graph_client


def test_a_tenant_added_while_running_serves_tokens_and_its_objects() -> None:
    with (
        SimulatorProcess(users=3, groups=1, devices=1) as sim,
        SimulatorControl(sim.control_url, sim.ca_file) as control,
    ):
        added = control.add_tenant(users=5, groups=2, devices=1)
        second = control.add_tenant(users=0, groups=0, devices=0)
        listed = control.tenants()
        token = acquire_graph_token(sim, added, added["domain"])
        with graph_client(sim, token) as graph:
            users = graph.get("/v1.0/users").json()["value"]
        by_guid = control.truth(added["tenant_id"], "group")
        with pytest.raises(ControlError) as refused:
            control._call("POST", "/tenants", json={"users": -1})

    first = sim.tenants[0]
    assert [t["tenant_id"] for t in listed] == [
        first["tenant_id"],
        added["tenant_id"],
        second["tenant_id"],
    ]
    assert len({t["domain"] for t in listed}) == 3
    assert added["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert len(users) == 5
    assert all(u["userPrincipalName"].endswith("@" + added["domain"]) for u in users)
    assert len(by_guid) == 2
    assert refused.value.status == 400
