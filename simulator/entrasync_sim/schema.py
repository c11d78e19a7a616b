"""Directory object kinds and the properties the simulator knows for each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

Kind = Literal["users", "groups", "devices", "servicePrincipals", "contacts"]

# Service principals and organisational contacts are group members in real tenants (group-delta.md:
# `members@delta` items are typed `#microsoft.graph.servicePrincipal`, `...orgContact` too).
KINDS: Final[tuple[Kind, ...]] = ("users", "groups", "devices", "servicePrincipals", "contacts")

ODATA_TYPES: Final[dict[Kind, str]] = {
    "users": "#microsoft.graph.user",
    "groups": "#microsoft.graph.group",
    "devices": "#microsoft.graph.device",
    "servicePrincipals": "#microsoft.graph.servicePrincipal",
    "contacts": "#microsoft.graph.orgContact",
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
}

MEMBERS_PROPERTY: Final = "members"

# Graph keeps soft-deleted users and Microsoft 365 groups restorable; devices and security
# groups are gone at once (see `soft_deletable`).
SOFT_DELETABLE: Final[frozenset[Kind]] = frozenset({"users", "groups"})


def soft_deletable(kind: Kind, props: Mapping[str, Any]) -> bool:
    """Whether deleting an object of `kind` with `props` leaves it restorable.

    Only users and Microsoft 365 groups (`groupTypes` holds "Unified") go to deleted items;
    security groups, like devices, are deleted for good (group-delta.md, delta-query-overview.md).
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


def selectable(kind: Kind) -> frozenset[str]:
    """Property names `$select` accepts for `kind` (besides `id`)."""
    if kind == "groups":
        return PROPERTIES[kind] | {MEMBERS_PROPERTY}
    return PROPERTIES[kind]
