"""Service principals, applications, directory roles, administrative units and contacts are
read with Graph delta exactly like users, groups and devices (issue 20, point 3): a full round
is the truth, a mutation comes in the next round, deletions as `@removed`, `$select` scopes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from entrasync_sim.control_client import ControlError, SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from sim_helpers import latest_link, run_round

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
# kind → (`$select` a security team would ask for, a new object's properties, an update)
KINDS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "servicePrincipals": (
        "appId,displayName,servicePrincipalType,accountEnabled,appOwnerOrganizationId,"
        "signInAudience,keyCredentials,passwordCredentials",
        {"displayName": "New SP", "appId": "9c5f3a5e-0000-4000-8000-000000000001"},
        {"accountEnabled": False},
    ),
    "applications": (
        "appId,displayName,signInAudience,keyCredentials,passwordCredentials",
        {"displayName": "New app", "appId": "9c5f3a5e-0000-4000-8000-000000000002"},
        {"passwordCredentials": [{"keyId": "k", "endDateTime": "2027-01-01T00:00:00Z"}]},
    ),
    "directoryRoles": (
        "displayName,description,roleTemplateId",
        {
            "displayName": "Attack Simulation Administrator",
            "roleTemplateId": "c430b396-e693-46cc-96f3-db01bf8bb62a",
        },
        {"description": "Renamed by Microsoft"},
    ),
    "administrativeUnits": (
        "displayName,description,visibility",
        {"displayName": "New unit", "membershipType": "Assigned"},
        {"visibility": "HiddenMembership"},
    ),
    "contacts": (
        "displayName,mail,companyName",
        {"displayName": "New contact", "mail": "new@partner.example.com"},
        {"companyName": "Other Ltd"},
    ),
}
# What a deletion looks like in the next round (directory-deleteditems-list.md lists the
# restorable types; contacts and roles are purged).
REMOVED = {
    "servicePrincipals": "changed",
    "applications": "changed",
    "administrativeUnits": "changed",
    "contacts": "deleted",
    "directoryRoles": "deleted",
}


def test_a_seeded_tenant_holds_every_type_scaled_with_its_users(
    control: SimulatorControl,
) -> None:
    added = control.add_tenant(users=200, groups=20, devices=10)
    state = control.state(added["tenant_id"])

    counts = {kind: len(objects) for kind, objects in state.items()}
    # 200 users: 200 // 10 service principals, 200 // 20 apps, 200 // 50 contacts, one unit;
    # the 30 built-in roles; two eligibility schedules.
    assert counts == {
        "users": 200,
        "groups": 20,
        "devices": 10,
        "servicePrincipals": 20,
        "contacts": 4,
        "applications": 10,
        "directoryRoles": 30,
        "administrativeUnits": 1,
        "roleEligibilitySchedules": 2,
    }
    sp_app_ids = {sp["appId"] for sp in state["servicePrincipals"]}
    assert {app["appId"] for app in state["applications"]} <= sp_app_ids
    [admins] = [r for r in state["directoryRoles"] if r["roleTemplateId"] == GLOBAL_ADMINISTRATOR]
    assignable = {g["id"] for g in state["groups"] if g.get("isAssignableToRole")}
    assert admins["displayName"] == "Global Administrator"
    assert assignable and assignable <= set(admins["members"])
    assert {admins["memberTypes"][g] for g in assignable} == {"group"}


def test_explicit_counts_replace_the_scaled_ones(control: SimulatorControl) -> None:
    added = control.add_tenant(
        users=10,
        groups=2,
        devices=1,
        service_principals=7,
        applications=3,
        contacts=0,
        administrative_units=4,
    )
    state = control.state(added["tenant_id"])

    assert [len(state[k]) for k in ("servicePrincipals", "applications", "contacts")] == [7, 3, 0]
    assert len(state["administrativeUnits"]) == 4


@pytest.mark.parametrize("kind", KINDS)
def test_a_full_round_is_the_truth_with_the_selected_properties(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str], kind: str
) -> None:
    select = KINDS[kind][0]

    found = run_round(graph, f"/v1.0/{kind}/delta?$select={select}").by_id()

    names = set(select.split(","))
    truth = control.state(tenant["tenant_id"])[kind]
    expected = {
        o["id"]: {"id": o["id"]} | {k: v for k, v in o.items() if k in names and v is not None}
        for o in truth
    }
    assert found == expected


@pytest.mark.parametrize("kind", KINDS)
def test_creates_updates_and_deletes_come_in_the_next_rounds(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str], kind: str
) -> None:
    tid = tenant["tenant_id"]
    select, attrs, change = KINDS[kind]
    link = latest_link(graph, kind, select)

    created = control.create(tid, kind, attrs)
    first = run_round(graph, link)
    control.update(tid, kind, created["id"], change)
    second = run_round(graph, first.delta_link)
    control.delete(tid, kind, created["id"])
    third = run_round(graph, second.delta_link)

    assert first.by_id()[created["id"]]["displayName"] == attrs["displayName"]
    assert {k: second.by_id()[created["id"]][k] for k in change} == change
    assert third.by_id() == {
        created["id"]: {"id": created["id"], "@removed": {"reason": REMOVED[kind]}}
    }


@pytest.mark.parametrize("kind", [k for k, reason in REMOVED.items() if reason == "changed"])
def test_a_restored_object_comes_back_whole(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str], kind: str
) -> None:
    tid = tenant["tenant_id"]
    select = KINDS[kind][0]
    victim = control.state(tid)[kind][0]
    link = latest_link(graph, kind, select)

    control.delete(tid, kind, victim["id"])
    control.restore(tid, kind, victim["id"])
    restored = run_round(graph, link).by_id()[victim["id"]]

    assert restored["displayName"] == victim["displayName"]


def test_a_purged_contact_cannot_be_restored(
    control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    contact = control.create(tid, "orgContact", {"displayName": "Gone"})
    control.delete(tid, "contacts", contact["id"])

    with pytest.raises(ControlError) as refused:
        control.restore(tid, "contacts", contact["id"])

    assert refused.value.status == 404


def test_select_names_a_property_the_type_lacks_is_refused(graph: httpx.Client) -> None:
    response = graph.get("/v1.0/directoryRoles/delta", params={"$select": "appId"})

    assert response.status_code == 400
    assert "microsoft.graph.directoryRole" in response.json()["error"]["message"]


def test_an_unselected_property_change_brings_nothing(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    app = control.state(tid)["applications"][0]
    link = latest_link(graph, "applications", "displayName")

    control.update(tid, "applications", app["id"], {"publisherDomain": "contoso.example"})
    quiet = run_round(graph, link)
    control.update(tid, "applications", app["id"], {"displayName": "Renamed app"})
    loud = run_round(graph, quiet.delta_link)

    assert quiet.entries == []
    assert loud.by_id() == {app["id"]: {"id": app["id"], "displayName": "Renamed app"}}


def test_the_launcher_passes_counts_to_the_cli() -> None:
    with (
        SimulatorProcess(
            users=20, groups=2, devices=1, service_principals=3, applications=2, contacts=1
        ) as sim,
        SimulatorControl(sim.control_url, sim.ca_file) as own,
    ):
        state = own.state(sim.tenants[0]["tenant_id"])

    counts = [len(state[k]) for k in ("servicePrincipals", "applications", "contacts")]
    assert counts == [3, 2, 1] and len(state["administrativeUnits"]) == 1
