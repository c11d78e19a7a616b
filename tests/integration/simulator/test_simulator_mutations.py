"""The control API's truth and batch mutations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from entrasync_sim.control_client import ControlError, SimulatorControl
from sim_helpers import DEVICES, USERS, latest_link, member_changes, run_round


@pytest.fixture
def tid(tenant: dict[str, Any]) -> str:
    return str(tenant["tenant_id"])


def test_truth_lists_one_type_with_every_property(control: SimulatorControl, tid: str) -> None:
    users, groups, devices = (control.truth(tid, kind) for kind in ("user", "group", "device"))
    state = control.state(tid)

    assert len(users) >= USERS and len(devices) >= DEVICES
    assert {"userPrincipalName", "accountEnabled", "userType"} <= set(users[0])
    assert all(isinstance(g["members"], list) for g in groups)
    assert (users, groups, devices) == (state["users"], state["groups"], state["devices"])
    assert control.truth(tid, "users") == users


def test_truth_of_an_unknown_type_is_refused(control: SimulatorControl, tid: str) -> None:
    with pytest.raises(ControlError) as refused:
        control.truth(tid, "printer")

    assert refused.value.status == 404


def test_a_batch_applies_in_order_and_returns_each_id(
    graph: httpx.Client, control: SimulatorControl, tid: str
) -> None:
    users_link = latest_link(graph, "users", "displayName,jobTitle")
    groups_link = latest_link(graph, "groups", "displayName,members")
    device = control.truth(tid, "device")[0]["id"]

    ids = control.mutate(
        tid,
        [
            {"op": "create", "type": "user", "attrs": {"displayName": "Ann", "jobTitle": "CEO"}},
            {"op": "create", "type": "group", "attrs": {"displayName": "Board"}},
            {"op": "add_member", "group_id": "$1", "member_id": "$0"},
            {"op": "add_member", "group_id": "$1", "member_id": device},
            {"op": "update", "type": "user", "id": "$0", "attrs": {"jobTitle": None}},
            {"op": "create", "type": "user", "attrs": {"displayName": "Bob"}},
            {"op": "add_member", "group_id": "$1", "member_id": "$5"},
            {"op": "soft_delete", "type": "user", "id": "$5"},
            {"op": "restore", "type": "user", "id": "$5"},
            {"op": "remove_member", "group_id": "$1", "member_id": device},
            {"op": "hard_delete", "type": "device", "id": device},
        ],
    )

    ann, board, bob = ids[0], ids[1], ids[5]
    assert ids[2:5] == [board, board, ann] and ids[6:] == [board, bob, bob, board, device]
    [group] = [g for g in control.truth(tid, "group") if g["id"] == board]
    assert group["members"] == sorted([ann, bob])
    assert device not in {d["id"] for d in control.truth(tid, "device")}
    users = run_round(graph, users_link).by_id()
    # Ann is new to this round: her null jobTitle is left out, as Graph does (user-delta.md).
    assert users[ann] == {"id": ann, "displayName": "Ann"}
    assert set(users) == {ann, bob}
    groups = run_round(graph, groups_link).by_id()
    assert member_changes(groups[board]) == ({ann, bob}, set())


def test_a_refused_batch_names_the_operation_and_changes_nothing(
    control: SimulatorControl, tid: str
) -> None:
    before = control.state(tid)
    user = before["users"][0]["id"]

    with pytest.raises(ControlError) as refused:
        control.mutate(
            tid,
            [
                {"op": "create", "type": "user", "attrs": {"displayName": "Never"}},
                {"op": "update", "type": "user", "id": user, "attrs": {"jobTitle": "X"}},
                {"op": "soft_delete", "type": "user", "id": user},
                {"op": "soft_delete", "type": "user", "id": user},
            ],
        )

    assert refused.value.status == 409
    assert refused.value.message.startswith("operation 3:")
    assert control.state(tid) == before


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "explode"},
        {"op": "create", "type": "printer"},
        {"op": "create", "type": "user", "attrs": {"shoeSize": 44}},
        {"op": "update", "type": "user", "id": "not-a-guid", "attrs": {}},
        {"op": "add_member", "group_id": "$7", "member_id": "$0"},
        {"op": "restore", "type": "device", "id": "00000000-0000-4000-8000-00000000000a"},
    ],
)
def test_malformed_operations_are_refused(
    control: SimulatorControl, tid: str, operation: dict[str, Any]
) -> None:
    with pytest.raises(ControlError) as refused:
        control.mutate(tid, [operation])

    assert refused.value.status in (400, 404)
