"""Directory object kinds and the properties the simulator knows for each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

Kind = Literal[
    "users",
    "groups",
    "devices",
    "servicePrincipals",
    "contacts",
    "applications",
    "directoryRoles",
    "administrativeUnits",
    "roleEligibilitySchedules",
]

# Service principals and organisational contacts are group members in real tenants (group-delta.md:
# `members@delta` items are typed `#microsoft.graph.servicePrincipal`, `...orgContact` too).
KINDS: Final[tuple[Kind, ...]] = (
    "users",
    "groups",
    "devices",
    "servicePrincipals",
    "contacts",
    "applications",
    "directoryRoles",
    "administrativeUnits",
    "roleEligibilitySchedules",
)
# Eligible role assignments (PIM) have no delta function: a plain paged list at
# `/roleManagement/directory/roleEligibilitySchedules`
# (rbacapplication-list-roleeligibilityschedules.md).
DELTA_KINDS: Final[tuple[Kind, ...]] = tuple(k for k in KINDS if k != "roleEligibilitySchedules")
# Kinds whose delta entries carry `members@delta` (group-delta.md, directoryrole-delta.md,
# administrativeunit-delta.md).
MEMBER_KINDS: Final[frozenset[Kind]] = frozenset(
    {"groups", "directoryRoles", "administrativeUnits"}
)
# What each kind with members may hold: directory roles take users, role-assignable groups and
# service principals (directoryrole-post-members.md); administrative units users, groups and
# devices (administrativeunit-post-members.md); groups anything (group-post-members.md).
MEMBER_TYPES: Final[dict[Kind, frozenset[Kind]]] = {
    "groups": frozenset({"users", "groups", "devices", "servicePrincipals", "contacts"}),
    "directoryRoles": frozenset({"users", "groups", "servicePrincipals"}),
    "administrativeUnits": frozenset({"users", "groups", "devices"}),
}

ODATA_TYPES: Final[dict[Kind, str]] = {
    "users": "#microsoft.graph.user",
    "groups": "#microsoft.graph.group",
    "devices": "#microsoft.graph.device",
    "servicePrincipals": "#microsoft.graph.servicePrincipal",
    "contacts": "#microsoft.graph.orgContact",
    "applications": "#microsoft.graph.application",
    "directoryRoles": "#microsoft.graph.directoryRole",
    "administrativeUnits": "#microsoft.graph.administrativeUnit",
    "roleEligibilitySchedules": "#microsoft.graph.unifiedRoleEligibilitySchedule",
}

PROPERTIES: Final[dict[Kind, frozenset[str]]] = {
    "users": frozenset(
        {
            "displayName",
            "givenName",
            "surname",
            "userPrincipalName",
            "mail",
            "accountEnabled",
            "userType",
            "jobTitle",
            "department",
            "officeLocation",
            "mobilePhone",
            "businessPhones",
            "employeeId",
            "onPremisesImmutableId",
            "createdDateTime",
        }
    ),
    "groups": frozenset(
        {
            "displayName",
            "description",
            "mail",
            "mailNickname",
            "mailEnabled",
            "securityEnabled",
            "groupTypes",
            "visibility",
            "createdDateTime",
            "isAssignableToRole",
        }
    ),
    "devices": frozenset(
        {
            "displayName",
            "deviceId",
            "operatingSystem",
            "operatingSystemVersion",
            "accountEnabled",
            "trustType",
            "isCompliant",
            "isManaged",
            "approximateLastSignInDateTime",
            "registrationDateTime",
        }
    ),
    "servicePrincipals": frozenset(
        {
            "displayName",
            "appId",
            "appDisplayName",
            "servicePrincipalType",
            "accountEnabled",
            "appOwnerOrganizationId",
            "tags",
            "signInAudience",
            "appRoleAssignmentRequired",
            "servicePrincipalNames",
            "keyCredentials",
            "passwordCredentials",
        }
    ),
    "contacts": frozenset(
        {
            "displayName",
            "givenName",
            "surname",
            "mail",
            "mailNickname",
            "companyName",
            "jobTitle",
            "department",
        }
    ),
    # application.md: the credentials' `endDateTime`s are what a security team watches.
    "applications": frozenset(
        {
            "displayName",
            "appId",
            "signInAudience",
            "publisherDomain",
            "createdDateTime",
            "identifierUris",
            "tags",
            "keyCredentials",
            "passwordCredentials",
            "requiredResourceAccess",
        }
    ),
    # directoryrole.md
    "directoryRoles": frozenset({"displayName", "description", "roleTemplateId"}),
    # administrativeunit.md
    "administrativeUnits": frozenset(
        {
            "displayName",
            "description",
            "visibility",
            "membershipType",
            "isMemberManagementRestricted",
        }
    ),
    # unifiedroleeligibilityschedule.md (with unifiedRoleScheduleBase's properties)
    "roleEligibilitySchedules": frozenset(
        {
            "principalId",
            "roleDefinitionId",
            "directoryScopeId",
            "appScopeId",
            "memberType",
            "status",
            "scheduleInfo",
            "createdDateTime",
            "modifiedDateTime",
            "createdUsing",
        }
    ),
}

MEMBERS_PROPERTY: Final = "members"

# Graph keeps soft-deleted users, Microsoft 365 groups, applications, service principals and
# administrative units restorable (directory-deleteditems-restore.md lists those types); devices,
# contacts and security groups are gone at once (see `soft_deletable`).
SOFT_DELETABLE: Final[frozenset[Kind]] = frozenset(
    {"users", "groups", "applications", "servicePrincipals", "administrativeUnits"}
)


def soft_deletable(kind: Kind, props: Mapping[str, Any]) -> bool:
    """Whether deleting an object of `kind` with `props` leaves it restorable.

    Users, Microsoft 365 groups (`groupTypes` holds "Unified"), applications, service principals
    and administrative units go to deleted items; security groups, like devices, contacts,
    directory roles and eligibility schedules, are deleted for good (group-delta.md,
    delta-query-overview.md, directory-deleteditems-restore.md).
    """
    if kind == "groups":
        return "Unified" in (props.get("groupTypes") or ())
    return kind in SOFT_DELETABLE


def parse_kind(value: str) -> Kind | None:
    """Return `value` as a Kind, or None when it names no known kind."""
    for kind in KINDS:
        if kind == value:
            return kind
    return None


def parse_delta_kind(value: str) -> Kind | None:
    """Return `value` as a Kind served at `/v1.0/{kind}` (with a delta function), else None."""
    kind = parse_kind(value)
    return kind if kind in DELTA_KINDS else None


def selectable(kind: Kind) -> frozenset[str]:
    """Property names `$select` accepts for `kind` (besides `id`)."""
    if kind in MEMBER_KINDS:
        return PROPERTIES[kind] | {MEMBERS_PROPERTY}
    return PROPERTIES[kind]
