"""Directory roles and administrative units carry `members@delta` like groups
(directoryrole-delta.md, administrativeunit-delta.md); eligible role assignments are a plain
paged list; each endpoint wants its own permission (issue 20, points 3 and 2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from entrasync_sim.control_client import ControlError, SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from sim_helpers import acquire_graph_token, graph_client, latest_link, member_changes, run_round

ODATA = "#microsoft.graph."
SCHEDULES = "/v1.0/roleManagement/directory/roleEligibilitySchedules"


def typed(entry: dict[str, Any]) -> dict[str, str]:
    """Member id → type name of one merged entry's `members@delta` additions."""
    return {
        m["id"]: m["@odata.type"].removeprefix(ODATA)
        for m in entry.get("members@delta", [])
        if "@removed" not in m
    }


@pytest.mark.parametrize("kind", ["directoryRoles", "administrativeUnits"])
def test_a_full_round_lists_every_member_typed(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str], kind: str
) -> None:
    found = run_round(graph, f"/v1.0/{kind}/delta?$select=displayName,members").by_id()

    truth = control.state(tenant["tenant_id"])[kind]
    assert {o["id"]: typed(found[o["id"]]) for o in truth} == {
        o["id"]: o["memberTypes"] for o in truth
    }
    kinds = {t for o in truth for t in o["memberTypes"].values()}
    assert "user" in kinds
    assert ("group" in kinds) if kind == "directoryRoles" else True


def test_role_assignments_come_as_member_additions_and_removals(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    state = control.state(tid)
    role = next(r for r in state["directoryRoles"] if r["displayName"] == "User Administrator")
    user = next(u["id"] for u in state["users"] if u["id"] not in role["members"])
    sp = state["servicePrincipals"][0]["id"]
    link = latest_link(graph, "directoryRoles", "displayName,members")

    control.change_members(tid, role["id"], add=[user, sp])
    added = run_round(graph, link)
    control.change_members(tid, role["id"], remove=[user])
    removed = run_round(graph, added.delta_link)

    assert typed(added.by_id()[role["id"]]) == {user: "user", sp: "servicePrincipal"}
    assert member_changes(removed.by_id()[role["id"]]) == (set(), {user})
    assert [m["@odata.type"] for m in removed.by_id()[role["id"]]["members@delta"]] == [
        ODATA + "user"
    ]


def test_only_role_assignable_groups_can_hold_a_role(
    control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    state = control.state(tid)
    role = next(r for r in state["directoryRoles"] if r["displayName"] == "Groups Administrator")
    plain = next(g["id"] for g in state["groups"] if not g.get("isAssignableToRole"))
    device = state["devices"][0]["id"]
    new = control.create(tid, "groups", {"displayName": "PIM", "isAssignableToRole": True})

    for refused_member in (plain, device):
        with pytest.raises(ControlError) as refused:
            control.change_members(tid, role["id"], add=[refused_member])
        assert refused.value.status == 400
    control.mutate(tid, [{"op": "add_member", "group_id": role["id"], "member_id": new["id"]}])

    [after] = [r for r in control.truth(tid, "directoryRole") if r["id"] == role["id"]]
    assert after["memberTypes"][new["id"]] == "group"


def test_unit_membership_changes_come_in_the_next_round(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    state = control.state(tid)
    unit = state["administrativeUnits"][0]
    device = next(d["id"] for d in state["devices"] if d["id"] not in unit["members"])
    group = next(g["id"] for g in state["groups"] if g["id"] not in unit["members"])
    link = latest_link(graph, "administrativeUnits", "members")

    ids = control.mutate(
        tid,
        [
            {"op": "add_member", "group_id": unit["id"], "member_id": device},
            {"op": "add_member", "group_id": unit["id"], "member_id": group},
        ],
    )
    with pytest.raises(ControlError):
        control.change_members(tid, unit["id"], add=[state["contacts"][0]["id"]])
    found = run_round(graph, link).by_id()

    assert ids == [unit["id"], unit["id"]]
    assert typed(found[unit["id"]]) == {device: "device", group: "group"}


def test_a_role_lists_its_members(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    role = next(r for r in control.truth(tenant["tenant_id"], "directoryRole") if r["members"])

    response = graph.get(f"/v1.0/directoryRoles/{role['id']}/members", params={"$select": "id"})

    assert response.status_code == 200, response.text
    assert sorted(m["id"] for m in response.json()["value"]) == role["members"]


def app_graph(
    sim: SimulatorProcess, control: SimulatorControl, tid: str, *perms: str
) -> httpx.Client:
    app = control.add_app(tid, permissions=perms, certificate=False)
    return graph_client(sim, acquire_graph_token(sim, app, tid))


# Least-privileged application permission of each endpoint (its Graph reference page), and a
# path to read with it.
LEAST_PRIVILEGED = [
    ("Application.Read.All", "/v1.0/servicePrincipals/delta"),
    ("Application.Read.All", "/v1.0/applications/delta"),
    ("RoleManagement.Read.Directory", "/v1.0/directoryRoles/delta"),
    ("AdministrativeUnit.Read.All", "/v1.0/administrativeUnits/delta"),
    ("OrgContact.Read.All", "/v1.0/contacts/delta"),
    ("RoleEligibilitySchedule.Read.Directory", SCHEDULES),
]


@pytest.mark.parametrize(("permission", "path"), LEAST_PRIVILEGED)
def test_each_endpoint_wants_its_permission(
    sim: SimulatorProcess,
    control: SimulatorControl,
    tenant: dict[str, str],
    permission: str,
    path: str,
) -> None:
    tid = tenant["tenant_id"]
    with app_graph(sim, control, tid, "User.Read.All") as without:
        denied = without.get(path)
    with app_graph(sim, control, tid, permission) as allowed:
        granted = allowed.get(path)

    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert granted.status_code == 200, granted.text


def test_directory_read_all_does_not_read_eligibility_schedules(graph: httpx.Client) -> None:
    # The tenant's first app has Directory.Read.All only: PIM wants its own permission.
    assert graph.get(SCHEDULES).status_code == 403


def test_eligibility_schedules_are_a_paged_list_that_follows_the_truth(
    sim: SimulatorProcess, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    user = control.truth(tid, "user")[0]["id"]
    role = "fe930be7-5e62-47db-91af-98c3a49a38b1"
    attrs = {"principalId": user, "roleDefinitionId": role, "directoryScopeId": "/"}
    created = control.create(tid, "roleEligibility", attrs | {"status": "Provisioned"})

    with app_graph(sim, control, tid, "RoleEligibilitySchedule.Read.Directory") as pim:
        pages, url = [], f"{SCHEDULES}?$top=1"
        while url:
            page = pim.get(url).json()
            pages.append(page)
            url = page.get("@odata.nextLink", "")
        control.delete(tid, "roleEligibilitySchedules", created["id"])
        after = pim.get(SCHEDULES).json()["value"]

    listed = [s for page in pages for s in page["value"]]
    truth = control.truth(tid, "roleEligibility")
    assert len(pages) == len(truth) + 1 and all(len(p["value"]) == 1 for p in pages)
    assert {s["id"] for s in listed} == {s["id"] for s in truth} | {created["id"]}
    assert pages[0]["@odata.context"].endswith("#roleManagement/directory/roleEligibilitySchedules")
    assert next(s for s in listed if s["id"] == created["id"])["roleDefinitionId"] == role
    assert created["id"] not in {s["id"] for s in after}
    assert all({"principalId", "roleDefinitionId", "scheduleInfo"} <= set(s) for s in after)


def test_units_are_served_under_directory_too_with_links_kept_there(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    # v1.0 names the collection `directory/administrativeUnits` (msgraph-sdk's v1.0 builder).
    graph_base = f"{graph.base_url}".rstrip("/")
    unit = control.truth(tenant["tenant_id"], "administrativeUnit")[0]

    first = graph.get("/v1.0/directory/administrativeUnits/delta()").json()
    listed = graph.get("/v1.0/directory/administrativeUnits", params={"$top": "1"}).json()
    members = graph.get(f"/v1.0/directory/administrativeUnits/{unit['id']}/members").json()
    elsewhere = graph.get("/v1.0/directory/users")

    link = first.get("@odata.deltaLink") or first["@odata.nextLink"]
    assert link.startswith(f"{graph_base}/v1.0/directory/administrativeUnits/delta?")
    assert run_round(graph, link).delta_link.startswith(
        f"{graph_base}/v1.0/directory/administrativeUnits/delta?"
    )
    assert [u["id"] for u in listed["value"]] == [unit["id"]]
    assert sorted(m["id"] for m in members["value"]) == unit["members"]
    assert elsewhere.status_code == 400
