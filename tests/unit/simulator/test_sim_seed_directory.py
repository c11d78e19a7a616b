"""Seeding the whole directory (issue 20): counts scaled with users, built-in roles with a
role-assignable group, nested groups, and users, groups and devices exactly as before."""

from __future__ import annotations

import hashlib
import json

import pytest
from entrasync_sim.directory import DirectoryError, TenantDirectory
from entrasync_sim.mutations import BatchError, apply_batch
from entrasync_sim.seed import ExtraCounts, seed_tenants
from entrasync_sim.seed_directory import BUILT_IN_ROLES, GLOBAL_ADMINISTRATOR


def nesting_depth(
    directory: TenantDirectory, group_id: str, seen: frozenset[str] = frozenset()
) -> int:
    """Groups in the longest chain of groups inside `group_id`, itself included."""
    assert group_id not in seen, "a cycle"
    inner = [m for m, kind in directory.members[group_id].items() if kind == "groups"]
    return 1 + max((nesting_depth(directory, g, seen | {group_id}) for g in inner), default=0)


def test_counts_scale_with_users_unless_given() -> None:
    assert ExtraCounts().resolve(100_000) == {
        "service_principals": 10_000,
        "applications": 5_000,
        "contacts": 2_000,
        "administrative_units": 50,
    }
    assert ExtraCounts(applications=3).resolve(0) == {
        "service_principals": 0,
        "applications": 3,
        "contacts": 0,
        "administrative_units": 0,
    }


def test_users_groups_and_devices_are_what_the_seed_made_before() -> None:
    # The fingerprint of seed 5's users, groups and devices (their properties and user and
    # device members) made by the simulator before issue 20: the new kinds have generators of
    # their own, so nothing earlier moved.
    [tenant] = seed_tenants(5, 1, 40, 6, 8, certificates=False)
    directory = tenant.directory

    def props(kind: str) -> list[tuple[str, dict[str, object]]]:
        return [
            (o.id, {k: v for k, v in o.props.items() if k != "isAssignableToRole"})
            for o in directory.sorted_objects[kind]
        ]

    data: dict[str, object] = {k: props(k) for k in ("users", "groups", "devices")}
    data["members"] = {
        g: sorted(m for m, kind in directory.members[g].items() if kind in ("users", "devices"))
        for g in directory.sorted_ids["groups"]
    }
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    assert digest == "26c949f2fc8b304296f8399b3f31237c8cd5792f14dee04b332a47c523ecaf2c"


def test_the_built_in_roles_hold_users_a_role_assignable_group_and_apps() -> None:
    [tenant] = seed_tenants(2, 1, 2_000, 100, 50, certificates=False)
    directory = tenant.directory
    roles = {o.props["roleTemplateId"]: o for o in directory.sorted_objects["directoryRoles"]}

    assert len(roles) == len(BUILT_IN_ROLES) == 30
    admins = directory.members[roles[GLOBAL_ADMINISTRATOR].id]
    assignable = [g for g, kind in admins.items() if kind == "groups"]
    assert len(assignable) == 2 and 2 <= len(admins) - 2 <= 4
    for group_id in assignable:
        assert directory.objects["groups"][group_id].props["isAssignableToRole"] is True
        assert set(directory.members[group_id].values()) == {"users"}
    kinds = {kind for role in roles.values() for kind in directory.members[role.id].values()}
    assert kinds == {"users", "groups", "servicePrincipals"}


def test_security_groups_nest_five_deep_without_cycles() -> None:
    [tenant] = seed_tenants(3, 1, 500, 40, 20, certificates=False)
    directory = tenant.directory

    depths = [nesting_depth(directory, g) for g in directory.sorted_ids["groups"]]

    assert max(depths) >= 5


def test_apps_have_their_service_principal_and_credentials_with_end_dates() -> None:
    [tenant] = seed_tenants(4, 1, 1_000, 10, 10, certificates=False)
    directory = tenant.directory
    sps = {o.props["appId"]: o.props for o in directory.sorted_objects["servicePrincipals"]}
    apps = [o.props for o in directory.sorted_objects["applications"]]

    assert len(apps) == 50 and len(sps) == 100
    assert all(sps[a["appId"]]["appOwnerOrganizationId"] == tenant.tenant_id for a in apps)
    secrets = [c for a in apps for c in a["passwordCredentials"]]
    assert secrets and all(c["endDateTime"] and c["secretText"] is None for c in secrets)
    made = list(directory.objects["applications"])
    assert made == sorted(made)


def test_units_hold_users_groups_and_devices_and_schedules_name_real_roles() -> None:
    [tenant] = seed_tenants(6, 1, 20_000, 200, 300, certificates=False)
    directory = tenant.directory
    templates = {t for _, t, _ in BUILT_IN_ROLES}

    units = directory.sorted_objects["administrativeUnits"]
    kinds = {kind for unit in units for kind in directory.members[unit.id].values()}
    schedules = [o.props for o in directory.sorted_objects["roleEligibilitySchedules"]]
    assert len(units) == 10 and kinds == {"users", "groups", "devices"}
    assert len(schedules) == 40 and {s["roleDefinitionId"] for s in schedules} <= templates
    assert any(s["directoryScopeId"].startswith("/administrativeUnits/") for s in schedules)


@pytest.mark.parametrize(
    ("container", "member", "allowed"),
    [
        ("directoryRoles", "users", True),
        ("directoryRoles", "servicePrincipals", True),
        ("directoryRoles", "devices", False),
        ("directoryRoles", "contacts", False),
        ("administrativeUnits", "devices", True),
        ("administrativeUnits", "servicePrincipals", False),
    ],
)
def test_roles_and_units_refuse_members_graph_refuses(
    container: str, member: str, allowed: bool
) -> None:
    directory = TenantDirectory()
    holder = directory.create(container, {"displayName": "holder"})
    candidate = directory.create(member, {"displayName": "candidate"})

    if allowed:
        directory.change_members(holder.id, [candidate.id], [])
        assert directory.members[holder.id] == {candidate.id: member}
    else:
        with pytest.raises(DirectoryError):
            directory.change_members(holder.id, [candidate.id], [])


def test_a_role_assignable_group_takes_no_groups_and_stays_role_assignable() -> None:
    directory = TenantDirectory()
    assignable = directory.create("groups", {"displayName": "Admins", "isAssignableToRole": True})
    other = directory.create("groups", {"displayName": "Team"})
    batch = [{"op": "add_member", "group_id": assignable.id, "member_id": other.id}]

    with pytest.raises(DirectoryError, match="role-assignable"):
        directory.change_members(assignable.id, [other.id], [])
    with pytest.raises(BatchError):
        apply_batch(directory, batch, "2026-01-01T00:00:00Z")
    with pytest.raises(DirectoryError, match="cannot be changed"):
        directory.update("groups", other.id, {"isAssignableToRole": True})
    directory.change_members(other.id, [assignable.id], [])  # the other way round is fine

    assert directory.members[assignable.id] == {}
