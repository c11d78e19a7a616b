"""Seeding beyond users, groups and devices: applications, directory roles with their members,
administrative units, eligible role assignments, role-assignable and nested groups.

Runs after the users, groups, devices, service principals and contacts are loaded, from a
generator of its own, so those stay exactly what every seed made before.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_sim.clock import isoformat
from entrasync_sim.directory import DirectoryObject, TenantDirectory
from entrasync_sim.schema import Kind

# Microsoft's own tenant owns first-party service principals (Graph, Exchange Online, ...).
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
# Built-in roles (name, roleTemplateId, description) as "Microsoft Entra built-in roles"
# (entra-docs permissions-reference.md, "All roles") lists them; a directoryRole's id is
# tenant-specific, its roleTemplateId (also the unifiedRoleDefinition id that eligibility
# schedules name) is the same everywhere.
BUILT_IN_ROLES: tuple[tuple[str, str, str], ...] = (
    (
        "Global Administrator",
        GLOBAL_ADMINISTRATOR,
        "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft "
        "Entra identities.",
    ),
    (
        "Privileged Role Administrator",
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged "
        "Identity Management.",
    ),
    (
        "Privileged Authentication Administrator",
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Can access to view, set and reset authentication method information for any user "
        "(admin or non-admin).",
    ),
    (
        "User Administrator",
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "Can manage all aspects of users and groups, including resetting passwords for limited "
        "admins.",
    ),
    (
        "Security Administrator",
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Can read security information and reports, and manage configuration in Microsoft "
        "Entra ID and Office 365.",
    ),
    (
        "Security Reader",
        "5d6b6bb7-de71-4623-b4af-96380a352509",
        "Can read security information and reports in Microsoft Entra ID and Office 365.",
    ),
    (
        "Security Operator",
        "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",
        "Creates and manages security events.",
    ),
    (
        "Global Reader",
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        "Can read everything that a Global Administrator can, but not update anything.",
    ),
    (
        "Application Administrator",
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Can create and manage all aspects of app registrations and enterprise apps.",
    ),
    (
        "Cloud Application Administrator",
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Can create and manage all aspects of app registrations and enterprise apps except App "
        "Proxy.",
    ),
    (
        "Exchange Administrator",
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Can manage all aspects of the Exchange product.",
    ),
    (
        "SharePoint Administrator",
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        "Can manage all aspects of the SharePoint service.",
    ),
    (
        "Teams Administrator",
        "69091246-20e8-4a56-aa4d-066075b2a7a8",
        "Can manage the Microsoft Teams service.",
    ),
    (
        "Helpdesk Administrator",
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Can reset passwords for non-administrators and Helpdesk Administrators.",
    ),
    (
        "Password Administrator",
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        "Can reset passwords for non-administrators and Password Administrators.",
    ),
    (
        "Authentication Administrator",
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Can access to view, set and reset authentication method information for any non-admin "
        "user.",
    ),
    (
        "Conditional Access Administrator",
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        "Can manage Conditional Access capabilities.",
    ),
    (
        "Intune Administrator",
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        "Can manage all aspects of the Intune product.",
    ),
    (
        "Billing Administrator",
        "b0f54661-2d74-4c50-afa3-1ec803f12efe",
        "Can perform common billing related tasks like updating payment information.",
    ),
    (
        "Compliance Administrator",
        "17315797-102d-40b4-93e0-432062caca18",
        "Can read and manage compliance configuration and reports in Microsoft Entra ID and "
        "Microsoft 365.",
    ),
    (
        "Groups Administrator",
        "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        "Members of this role can create/manage groups, create/manage groups settings like "
        "naming and expiration policies, and view groups activity and audit reports.",
    ),
    (
        "License Administrator",
        "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
        "Can manage product licenses on users and groups.",
    ),
    (
        "Directory Readers",
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
        "Can read basic directory information. Commonly used to grant directory read access to "
        "applications and guests.",
    ),
    (
        "Directory Writers",
        "9360feb5-f418-4baa-8175-e2a00bac4301",
        "Can read and write basic directory information. For granting access to applications, "
        "not intended for users.",
    ),
    (
        "Hybrid Identity Administrator",
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        "Manage Active Directory to Microsoft Entra cloud provisioning, Microsoft Entra "
        "Connect, pass-through authentication (PTA), password hash synchronization (PHS), "
        "seamless single sign-on (seamless SSO), and federation settings.",
    ),
    (
        "Reports Reader",
        "4a5d8f65-41da-4de4-8968-e035b65339cf",
        "Can read sign-in and audit reports.",
    ),
    (
        "Service Support Administrator",
        "f023fd81-a637-4b56-95fd-791ac0226033",
        "Can read service health information and manage support tickets.",
    ),
    (
        "Cloud Device Administrator",
        "7698a772-787b-4ac8-901f-60d6b08affd2",
        "Limited access to manage devices in Microsoft Entra ID.",
    ),
    (
        "Microsoft Entra Joined Device Local Administrator",
        "9f06204d-73c1-4d4c-880a-6edb90606fd8",
        "Users assigned to this role are added to the local administrators group on Microsoft "
        "Entra joined devices.",
    ),
    (
        "Guest Inviter",
        "95e79109-95c0-4d8e-aee3-d01accf2d47b",
        "Can invite guest users independent of the 'members can invite guests' setting.",
    ),
)
# Roles apps commonly hold (a service principal as a role member).
_APP_ROLES = frozenset({"Directory Readers", "Application Administrator", "Exchange Administrator"})
_AUDIENCES = [
    "AzureADMyOrg",
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
]
_REGIONS = ["Europe", "Americas", "Asia", "Finance", "Sales", "Research", "Support", "Legal"]
_EPOCH = datetime(2022, 1, 1, tzinfo=UTC)
_NESTING_DEPTH = 5

Rows = list[tuple[str, dict[str, Any]]]


def seed_more(
    rng: random.Random, tenant_id: str, directory: TenantDirectory, counts: dict[str, int]
) -> None:
    """Add applications, roles, units and eligibility schedules to a seeded `directory`, and
    make a role-assignable group and a chain of nested groups out of its security groups."""
    users = [o.id for o in directory.sorted_objects["users"]]
    if not users:
        return
    _link_apps(rng, tenant_id, directory, counts["applications"])
    assignable = _role_assignable_groups(rng, directory)
    _nest_groups(rng, directory, assignable)
    role_rows, role_members = _roles(rng, directory, users, assignable)
    directory.bulk_load("directoryRoles", role_rows, iter(role_members.items()))
    unit_rows, unit_members = _units(rng, directory, users, counts["administrative_units"])
    directory.bulk_load("administrativeUnits", unit_rows, iter(unit_members.items()))
    schedules = _eligibility(rng, users, assignable, role_rows, unit_rows)
    directory.bulk_load("roleEligibilitySchedules", schedules)


def _ids(rng: random.Random, count: int) -> list[str]:
    """`count` GUIDs in id order (the order rounds walk them: see `seed._ids`)."""
    values = sorted(uuid.UUID(int=rng.getrandbits(128), version=4).int for _ in range(count))
    return [str(uuid.UUID(int=value)) for value in values]


def _moment(rng: random.Random, days: int = 3 * 365) -> str:
    return isoformat(_EPOCH + timedelta(seconds=rng.randrange(days * 86400)))


def _credentials(rng: random.Random, kind: str, chance: float) -> list[dict[str, Any]]:
    """Zero to two credentials starting 2022–2024, a fifth valid for a year, the rest two to
    five: some have expired, some expire soon, as in a real tenant."""
    found = []
    for _ in range(2):
        if rng.random() >= chance:
            continue
        start = _EPOCH + timedelta(days=rng.randrange(3 * 365))
        years = 1 if rng.random() < 0.2 else rng.choice([2, 3, 5])
        credential: dict[str, Any] = {
            "customKeyIdentifier": None,
            "displayName": f"{kind} {start.year}",
            "endDateTime": isoformat(start + timedelta(days=365 * years)),
            "keyId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "startDateTime": isoformat(start),
        }
        if kind == "secret":
            credential |= {"hint": "".join(rng.choice("abcdefXYZ019~") for _ in range(3))}
            credential |= {"secretText": None}
        else:
            credential |= {"key": None, "type": "AsymmetricX509Cert", "usage": "Verify"}
        found.append(credential)
    return found


def _link_apps(rng: random.Random, tenant_id: str, directory: TenantDirectory, count: int) -> None:
    """The tenant's own app registrations, each with its service principal (same appId) while
    there are any; the other service principals are Microsoft's, other tenants' or managed
    identities."""
    sps = directory.sorted_objects["servicePrincipals"]
    owned = set(rng.sample(range(len(sps)), min(count, len(sps))))
    rows: Rows = []
    for object_id in _ids(rng, count):
        sp = sps[owned.pop()] if owned else None
        app = _application(rng, sp.props if sp else None)
        rows.append((object_id, app))
        if sp is not None:
            sp.props |= {
                "appOwnerOrganizationId": tenant_id,
                "servicePrincipalType": "Application",
                "signInAudience": app["signInAudience"],
            }
    for sp in sps:
        _complete_service_principal(rng, sp)
    directory.bulk_load("applications", rows)


def _application(rng: random.Random, sp: dict[str, Any] | None) -> dict[str, Any]:
    app_id = sp["appId"] if sp else str(uuid.UUID(int=rng.getrandbits(128), version=4))
    name = sp["displayName"] if sp else f"Registration {app_id[:8]}"
    return {
        "displayName": name,
        "appId": app_id,
        "signInAudience": rng.choice(_AUDIENCES),
        "publisherDomain": "example.com",
        "createdDateTime": _moment(rng),
        "identifierUris": [f"api://{app_id}"] if rng.random() < 0.3 else [],
        "tags": [],
        "keyCredentials": _credentials(rng, "certificate", 0.25),
        "passwordCredentials": _credentials(rng, "secret", 0.6),
        "requiredResourceAccess": [
            {
                "resourceAppId": "00000003-0000-0000-c000-000000000000",
                "resourceAccess": [{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}],
            }
        ],
    }


def _complete_service_principal(rng: random.Random, sp: DirectoryObject) -> None:
    props = sp.props
    managed = props["servicePrincipalType"] == "ManagedIdentity"
    if "appOwnerOrganizationId" not in props and not managed:
        owner = MICROSOFT_TENANT if rng.random() < 0.6 else str(uuid.UUID(int=rng.getrandbits(128)))
        props["appOwnerOrganizationId"] = owner
        props["signInAudience"] = "AzureADMultipleOrgs"
    props.setdefault("signInAudience", "AzureADMyOrg")
    props["appRoleAssignmentRequired"] = rng.random() < 0.2
    props["servicePrincipalNames"] = [props["appId"]]
    props["keyCredentials"] = [] if managed else _credentials(rng, "certificate", 0.1)
    props["passwordCredentials"] = [] if managed else _credentials(rng, "secret", 0.05)


def _security_groups(directory: TenantDirectory) -> list[DirectoryObject]:
    return [
        g
        for g in directory.sorted_objects["groups"]
        if not g.props["groupTypes"] and g.props["securityEnabled"]
    ]


def _role_assignable_groups(rng: random.Random, directory: TenantDirectory) -> list[str]:
    """One security group (two from 20 groups) made role-assignable; Graph lets such a group
    hold no groups (groups-concept.md, "Role-assignable groups"): only groups of users."""
    candidates = [
        g
        for g in _security_groups(directory)
        if directory.members[g.id] and set(directory.members[g.id].values()) == {"users"}
    ]
    wanted = 2 if len(directory.sorted_objects["groups"]) >= 20 else 1
    chosen = rng.sample(candidates, min(wanted, len(candidates)))
    for group in chosen:
        group.props["isAssignableToRole"] = True
    return sorted(g.id for g in chosen)


def _nest_groups(rng: random.Random, directory: TenantDirectory, assignable: list[str]) -> None:
    """A chain of security groups nested five deep (each later group holds the one before,
    the rule that keeps the seeded groups free of cycles), so effective membership matters."""
    order = {o.id: n for n, o in enumerate(directory.sorted_objects["groups"])}
    pool = [g.id for g in _security_groups(directory) if g.id not in assignable]
    chain = sorted(rng.sample(pool, min(_NESTING_DEPTH, len(pool))), key=order.__getitem__)
    for inner, outer in zip(chain, chain[1:], strict=False):
        _add_edge(directory, outer, inner, "groups")


def _add_edge(directory: TenantDirectory, container: str, member: str, kind: Kind) -> None:
    directory.members[container] = dict(
        sorted({**directory.members[container], member: kind}.items())
    )


def _roles(
    rng: random.Random, directory: TenantDirectory, users: list[str], assignable: list[str]
) -> tuple[Rows, dict[str, dict[str, Kind]]]:
    """The built-in roles, activated; a few direct members each: Global Administrator two to
    four users and the role-assignable groups, some roles a service principal."""
    sps = [o.id for o in directory.sorted_objects["servicePrincipals"]]
    templates = list(BUILT_IN_ROLES)
    rng.shuffle(templates)
    rows: Rows = []
    members: dict[str, dict[str, Kind]] = {}
    for role_id, (name, template, about) in zip(_ids(rng, len(templates)), templates, strict=True):
        rows.append(
            (role_id, {"displayName": name, "description": about, "roleTemplateId": template})
        )
        size = {"Global Administrator": rng.randint(2, 4)}.get(name, rng.randint(0, 3))
        chosen: dict[str, Kind] = dict.fromkeys(rng.sample(users, min(size, len(users))), "users")
        if name == "Global Administrator":
            chosen |= dict.fromkeys(assignable, "groups")
        if name in _APP_ROLES and sps:
            chosen[rng.choice(sps)] = "servicePrincipals"
        members[role_id] = chosen
    return rows, members


def _units(
    rng: random.Random, directory: TenantDirectory, users: list[str], count: int
) -> tuple[Rows, dict[str, dict[str, Kind]]]:
    """Administrative units of users, with a group or devices now and then; the first one is a
    restricted management unit."""
    groups = [o.id for o in directory.sorted_objects["groups"]]
    devices = [o.id for o in directory.sorted_objects["devices"]]
    rows: Rows = []
    members: dict[str, dict[str, Kind]] = {}
    for n, unit_id in enumerate(_ids(rng, count)):
        rows.append(
            (
                unit_id,
                {
                    "displayName": f"{rng.choice(_REGIONS)} unit {n}",
                    "description": rng.choice([None, f"Seeded administrative unit {n}"]),
                    "visibility": "HiddenMembership" if rng.random() < 0.2 else None,
                    "membershipType": "Assigned",
                    "isMemberManagementRestricted": n == 0,
                },
            )
        )
        size = rng.randint(1, min(len(users), 200))
        chosen: dict[str, Kind] = dict.fromkeys(rng.sample(users, size), "users")
        if groups and rng.random() < 0.3:
            chosen[rng.choice(groups)] = "groups"
        if devices and rng.random() < 0.3:
            chosen[rng.choice(devices)] = "devices"
        members[unit_id] = chosen
    return rows, members


def _eligibility(
    rng: random.Random, users: list[str], assignable: list[str], roles: Rows, units: Rows
) -> Rows:
    """A few eligible (PIM) assignments: the first makes a user eligible for Global
    Administrator, one is scoped to an administrative unit, some name a role-assignable group."""
    templates = [props["roleTemplateId"] for _, props in roles]
    count = max(2, min(40, len(users) // 250))
    rows: Rows = []
    for n, schedule_id in enumerate(_ids(rng, count)):
        principal = rng.choice(assignable) if assignable and n % 5 == 4 else rng.choice(users)
        scope = f"/administrativeUnits/{units[0][0]}" if n == 1 and units else "/"
        start = _moment(rng)
        ends = rng.random() < 0.5
        rows.append(
            (
                schedule_id,
                {
                    "principalId": principal,
                    "roleDefinitionId": GLOBAL_ADMINISTRATOR if n == 0 else rng.choice(templates),
                    "directoryScopeId": scope,
                    "appScopeId": None,
                    "memberType": "Direct",
                    "status": "Provisioned",
                    "scheduleInfo": _schedule(start, ends),
                    "createdDateTime": start,
                    "modifiedDateTime": start,
                    "createdUsing": schedule_id,
                },
            )
        )
    return rows


def _schedule(start: str, ends: bool) -> dict[str, Any]:
    end = datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(days=365)
    expiration = (
        {"type": "afterDateTime", "endDateTime": isoformat(end), "duration": None}
        if ends
        else {"type": "noExpiration", "endDateTime": None, "duration": None}
    )
    return {"startDateTime": start, "recurrence": None, "expiration": expiration}
