"""Delta rounds after control-API mutations report exactly those changes.

Each test takes `latest` links first, so tests do not depend on each other's mutations.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from entrasync_sim.control_client import ControlError, SimulatorControl
from sim_helpers import MEMBER_SLICE, latest_link, member_changes, run_round

USER_SELECT = "displayName,jobTitle,accountEnabled"
GROUP_SELECT = "displayName,members"


def _group_with_members(state: dict[str, Any], minimum: int, skip: set[str]) -> dict[str, Any]:
    return next(
        g
        for g in state["groups"]
        if g["id"] not in skip
        and sum(1 for m in g["members"] if m in {u["id"] for u in state["users"]}) >= minimum
    )


def test_user_and_membership_changes_come_back_in_the_next_round(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    state = control.state(tid)
    user_ids = {u["id"] for u in state["users"]}
    first_group = _group_with_members(state, 2, set())
    second_group = _group_with_members(state, 2, {first_group["id"]})
    purged = next(m for m in first_group["members"] if m in user_ids)
    removed = next(m for m in second_group["members"] if m in user_ids and m != purged)
    others = [u["id"] for u in state["users"] if u["id"] not in {purged, removed}]
    updated, soft_deleted, restored = others[:3]
    control.delete(tid, "users", restored)
    users_link = latest_link(graph, "users", USER_SELECT)
    groups_link = latest_link(graph, "groups", GROUP_SELECT)

    created = control.create(tid, "users", {"displayName": "New Person", "jobTitle": "Tester"})
    control.update(tid, "users", updated, {"displayName": "Renamed", "jobTitle": None})
    control.delete(tid, "users", soft_deleted)
    control.delete(tid, "users", purged, hard=True)
    control.restore(tid, "users", restored)
    control.change_members(tid, second_group["id"], add=[created["id"]], remove=[removed])

    users = run_round(graph, users_link).by_id()
    groups = run_round(graph, groups_link).by_id()

    assert set(users) == {created["id"], updated, soft_deleted, purged, restored}
    # Never-set accountEnabled is left out (user-delta.md); a fresh clear is an explicit null.
    assert users[created["id"]] == {
        "id": created["id"],
        "displayName": "New Person",
        "jobTitle": "Tester",
    }
    assert users[updated]["displayName"] == "Renamed"
    assert users[updated]["jobTitle"] is None
    assert users[soft_deleted] == {"id": soft_deleted, "@removed": {"reason": "changed"}}
    assert users[purged] == {"id": purged, "@removed": {"reason": "deleted"}}
    assert users[restored]["displayName"] is not None
    expected = {}
    for group in state["groups"]:
        # A restore reports nothing to groups delta: the edges never left (delta-query-groups.md).
        added, dropped = set(), {purged} & set(group["members"])
        if group["id"] == second_group["id"]:
            added, dropped = added | {created["id"]}, dropped | {removed}
        if added or dropped:
            expected[group["id"]] = (added, dropped)
    assert {gid: member_changes(g) for gid, g in groups.items()} == expected
    assert groups[second_group["id"]]["displayName"] == second_group["displayName"]


def test_soft_deleting_and_restoring_a_user_report_no_member_change_but_move_the_truth(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    member = control.create(tid, "users", {"displayName": "Member"})
    group = control.create(tid, "groups", {"displayName": "Keeps members"})
    control.change_members(tid, group["id"], add=[member["id"]])
    groups_link = latest_link(graph, "groups", GROUP_SELECT)

    control.delete(tid, "users", member["id"])
    silent = run_round(graph, groups_link)
    [hidden] = [g for g in control.truth(tid, "group") if g["id"] == group["id"]]
    control.restore(tid, "users", member["id"])
    restored = run_round(graph, silent.delta_link).by_id()

    assert silent.entries == []
    assert hidden["members"] == []
    assert group["id"] not in restored
    [back] = [g for g in control.truth(tid, "group") if g["id"] == group["id"]]
    assert back["members"] == [member["id"]]


M365 = {"groupTypes": ["Unified"], "mailEnabled": True, "securityEnabled": False}
SECURITY = {"groupTypes": [], "mailEnabled": False, "securityEnabled": True}


def test_group_lifecycle_and_restored_groups_come_back_whole(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    users = [control.create(tid, "users", {"displayName": f"U{n}"})["id"] for n in range(3)]
    restored = control.create(tid, "groups", {"displayName": "Restored", **M365})
    control.change_members(tid, restored["id"], add=users)
    doomed = control.create(tid, "groups", {"displayName": "Doomed", **M365})
    parked = control.create(tid, "groups", {"displayName": "Parked", **M365})
    control.delete(tid, "groups", restored["id"])
    link = latest_link(graph, "groups", GROUP_SELECT)

    control.restore(tid, "groups", restored["id"])
    control.delete(tid, "groups", doomed["id"], hard=True)
    control.delete(tid, "groups", parked["id"])
    empty = control.create(tid, "groups", {"displayName": "Empty", **SECURITY})
    groups = run_round(graph, link).by_id()

    assert set(groups) == {restored["id"], doomed["id"], parked["id"], empty["id"]}
    assert groups[empty["id"]] == {"id": empty["id"], "displayName": "Empty"}
    assert member_changes(groups[restored["id"]]) == (set(users), set())
    assert groups[doomed["id"]] == {"id": doomed["id"], "@removed": {"reason": "deleted"}}
    assert groups[parked["id"]] == {"id": parked["id"], "@removed": {"reason": "changed"}}


def test_a_security_group_is_only_ever_hard_deleted(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    group = control.create(tid, "groups", {"displayName": "Security", **SECURITY})
    link = latest_link(graph, "groups", GROUP_SELECT)

    control.delete(tid, "groups", group["id"])  # no `hard`: Graph still purges it

    assert run_round(graph, link).by_id() == {
        group["id"]: {"id": group["id"], "@removed": {"reason": "deleted"}}
    }
    with pytest.raises(ControlError) as refused:
        control.restore(tid, "groups", group["id"])
    assert refused.value.status == 404


def test_a_group_restored_in_the_window_of_a_membership_change_lists_its_whole_membership(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    users = [control.create(tid, "users", {"displayName": f"U{n}"})["id"] for n in range(3)]
    group = control.create(tid, "groups", {"displayName": "Team", **M365})
    control.change_members(tid, group["id"], add=users[:2])
    link = latest_link(graph, "groups", GROUP_SELECT)

    control.change_members(tid, group["id"], add=[users[2]], remove=[users[0]])
    control.delete(tid, "groups", group["id"])
    control.restore(tid, "groups", group["id"])

    # Back like a new group: its whole membership as additions, no removal named.
    assert member_changes(run_round(graph, link).by_id()[group["id"]]) == (set(users[1:]), set())


def test_devices_are_always_hard_deleted(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    device = control.create(tid, "devices", {"displayName": "Laptop", "operatingSystem": "Linux"})
    link = latest_link(graph, "devices", "displayName")

    control.delete(tid, "devices", device["id"])

    assert run_round(graph, link).by_id() == {
        device["id"]: {"id": device["id"], "@removed": {"reason": "deleted"}}
    }
    with pytest.raises(ControlError) as refused:
        control.restore(tid, "devices", device["id"])
    assert refused.value.status == 404


def test_big_membership_changes_arrive_in_slices(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    group = control.create(tid, "groups", {"displayName": "Big"})
    new_users = [control.create(tid, "users", {"displayName": f"B{n}"})["id"] for n in range(25)]
    link = latest_link(graph, "groups", GROUP_SELECT)

    control.change_members(tid, group["id"], add=new_users)
    result = run_round(graph, link)

    assert len(result.entries) == 3
    assert member_changes(result.by_id()[group["id"]]) == (set(new_users), set())
    assert all(len(e["members@delta"]) <= MEMBER_SLICE for e in result.entries)


def test_objects_created_behind_the_cursor_arrive_in_the_next_round(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    first_page = graph.get("/v1.0/users/delta", params={"$select": "displayName"}).json()
    early = control.create(
        tid, "users", {"displayName": "Early"} | {"id": "00000000-0000-4000-8000-000000000000"}
    )

    full = run_round(graph, first_page["@odata.nextLink"])
    following = run_round(graph, full.delta_link)

    assert early["id"] not in {e["id"] for e in first_page["value"] + full.entries}
    assert early["id"] in following.by_id()


def test_changes_after_latest_are_reported_and_then_not_again(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    link = latest_link(graph, "users", USER_SELECT)
    created = control.create(tid, "users", {"displayName": "Once"})

    first = run_round(graph, link)
    second = run_round(graph, first.delta_link)

    assert set(first.by_id()) == {created["id"]}
    assert second.entries == []


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (lambda c, t: c.create(t, "printers", {}), 404),
        (lambda c, t: c.create(t, "users", {"shoeSize": 44}), 400),
        (lambda c, t: c.create(t, "users", {"id": "not-a-guid"}), 400),
        (lambda c, t: c.update(t, "users", "00000000-0000-4000-8000-00000000dead", {}), 404),
        (lambda c, t: c.delete(t, "groups", "00000000-0000-4000-8000-00000000dead"), 404),
        (lambda c, t: c.state("00000000-0000-4000-8000-00000000dead"), 404),
    ],
)
def test_bad_control_calls_are_refused_without_changes(
    control: SimulatorControl, tenant: dict[str, str], call: Any, status: int
) -> None:
    before = control.state(tenant["tenant_id"])

    with pytest.raises(ControlError) as refused:
        call(control, tenant["tenant_id"])

    assert refused.value.status == status
    assert control.state(tenant["tenant_id"]) == before


def test_a_membership_change_with_one_bad_id_changes_nothing(
    control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    user = control.create(tid, "users", {"displayName": "Almost"})
    group = control.create(tid, "groups", {"displayName": "Untouched"})

    with pytest.raises(ControlError) as refused:
        control.change_members(
            tid, group["id"], add=[user["id"], "00000000-0000-4000-8000-00000000dead"]
        )

    assert refused.value.status == 404
    [same] = [g for g in control.state(tid)["groups"] if g["id"] == group["id"]]
    assert same["members"] == []


def test_restoring_a_live_user_is_a_conflict(
    control: SimulatorControl, tenant: dict[str, str]
) -> None:
    user = control.create(tenant["tenant_id"], "users", {"displayName": "Alive"})

    with pytest.raises(ControlError) as refused:
        control.restore(tenant["tenant_id"], "users", user["id"])

    assert refused.value.status == 409
