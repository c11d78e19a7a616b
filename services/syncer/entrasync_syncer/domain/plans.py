"""Where a run's object types start: what to ask Graph, which stored link is still usable, and
the ids and labels of what a run publishes."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from entrasync_shared.messages import SyncMode, SyncReason
from entrasync_shared.subjects import FULL_LIST_TYPES, GRAPH_PATHS, ObjectType

SELECTS: Final[dict[ObjectType, tuple[str, ...]]] = {
    "user": (
        "id",
        "displayName",
        "givenName",
        "surname",
        "userPrincipalName",
        "mail",
        "accountEnabled",
        "userType",
        "jobTitle",
        "department",
    ),
    "group": (
        "id",
        "displayName",
        "description",
        "mail",
        "mailEnabled",
        "securityEnabled",
        "groupTypes",
        "members",
    ),
    "device": (
        "id",
        "displayName",
        "deviceId",
        "operatingSystem",
        "operatingSystemVersion",
        "accountEnabled",
        "trustType",
    ),
    # docs/object-types.md says why each property is here.
    "servicePrincipal": (
        "id",
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
        "keyCredentials",  # their metadata only: Graph never returns a key or a secret here
        "passwordCredentials",
    ),
    "application": (
        "id",
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
    ),
    "directoryRole": ("id", "displayName", "description", "roleTemplateId", "members"),
    "administrativeUnit": (
        "id",
        "displayName",
        "description",
        "visibility",
        "membershipType",
        "isMemberManagementRestricted",
        "members",
    ),
    "orgContact": (
        "id",
        "displayName",
        "givenName",
        "surname",
        "mail",
        "mailNickname",
        "companyName",
        "jobTitle",
        "department",
    ),
    # A schedule's own properties and unifiedRoleScheduleBase's (unifiedroleeligibilityschedule.md)
    "roleEligibility": (
        "id",
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
    ),
}
"""Attributes tracked per type; `$select` decides what delta rounds report as changed."""

LINK_LIFETIME: Final = timedelta(days=7)
"""How long Graph keeps the state behind a deltaLink of directory objects."""

# Graph's paths are case-insensitive, and its links may spell them otherwise than asked
# (administrativeunit-delta.md asks `administrativeunits/delta` and gets links so spelt); units
# are also served at the top level, which that page names and beta serves.
_LINK_ALIASES: Final[dict[ObjectType, tuple[str, ...]]] = {
    "administrativeUnit": ("administrativeUnits",),
}


def _delta_link_path(object_type: ObjectType) -> re.Pattern[str]:
    paths = "|".join(
        map(re.escape, (GRAPH_PATHS[object_type], *_LINK_ALIASES.get(object_type, ())))
    )
    return re.compile(rf"/({paths})/(microsoft\.graph\.)?delta(\(\))?$", re.IGNORECASE)


_DELTA_LINK_PATHS: Final = {
    object_type: _delta_link_path(object_type) for object_type in GRAPH_PATHS
}


def full_round_url(graph_url: str, object_type: ObjectType) -> str:
    """The first request of a full round for `object_type`: its delta function, or its plain
    list for a type without one (`FULL_LIST_TYPES`)."""
    path = GRAPH_PATHS[object_type]
    if object_type not in FULL_LIST_TYPES:
        path += "/delta"
    return f"{graph_url.rstrip('/')}/v1.0/{path}?$select={','.join(SELECTS[object_type])}"


@dataclass(frozen=True)
class Cursor:
    """A stored deltaLink, when it was stored, and the filter scope it was read under."""

    delta_link: str
    at: datetime | None = None
    scope: str = ""


@dataclass(frozen=True)
class TypePlan:
    """How one object type of a run starts: its mode, reason, first URL and why."""

    mode: SyncMode
    reason: SyncReason
    url: str
    note: str = ""


def plan_type(
    command_mode: SyncMode,
    command_reason: SyncReason,
    cursor: Cursor | None,
    *,
    object_type: ObjectType,
    graph_url: str,
    scope: str = "",
    now: datetime | None = None,
    link_lifetime: timedelta = LINK_LIFETIME,
) -> TypePlan:
    """Where one object type starts: the stored link for a delta, else a full round (always
    for `FULL_LIST_TYPES`, which have no delta).

    A delta falls back to a full round (reason `resync`) when there is no link, when the link
    is older than Graph keeps delta state, when it belongs to another resource, or when the
    tenant's filters (or group scope) changed since it was stored: a delta from such a link
    would silently miss objects.
    """
    full = full_round_url(graph_url, object_type)
    if command_mode == "full" or object_type in FULL_LIST_TYPES:
        # A type without delta is read whole on every run, so each of its rounds is full (and
        # sweeps what its list no longer holds); the run's reason stays the run's.
        return TypePlan("full", command_reason, full)
    problem = _unusable(cursor, object_type, scope, now or datetime.now(UTC), link_lifetime)
    if problem or cursor is None:
        return TypePlan("full", "resync", full, problem or "no delta link stored")
    return TypePlan("delta", command_reason, cursor.delta_link)


def _unusable(
    cursor: Cursor | None,
    object_type: ObjectType,
    scope: str,
    now: datetime,
    link_lifetime: timedelta,
) -> str:
    if cursor is None:
        return "no delta link stored"
    if not _DELTA_LINK_PATHS[object_type].search(urlsplit(cursor.delta_link).path.rstrip("/")):
        return "the stored link is not a delta link of this resource"
    if cursor.at is not None and now - cursor.at >= link_lifetime:
        return f"the stored link is older than {link_lifetime.days} days"
    if cursor.scope != scope:
        return "the tenant's filters or group scope changed"
    return ""


_GUID: Final = re.compile(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}")


def directory_guid(tenant: str, access_token: str) -> str | None:
    """The Entra directory's GUID: the access token's `tid` claim, else the configured tenant
    when it is a GUID; None when neither tells (a token that is not a readable JWT).

    The claim is read, not verified: MSAL got the token from the authority over TLS, and the
    GUID only labels the run's public events (`entratenantid`) for consumers.
    """
    tid = _jwt_claims(access_token).get("tid")
    for candidate in (tid, tenant):
        if isinstance(candidate, str) and _GUID.fullmatch(candidate.lower()):
            return candidate.lower()
    return None


def _jwt_claims(token: str) -> dict[str, object]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):  # also JSON and UTF-8 decode errors
        return {}
    return claims if isinstance(claims, dict) else {}


def batch_id(run_id: str, object_type: ObjectType, seq: int, attempt: int = 1) -> str:
    """Stable id of a batch; a redelivered command gets distinct ids (see README of the run).

    A second attempt re-reads Graph, and its pages need not match the first attempt's: reusing
    the ids would let JetStream's duplicate window silently drop the new content.
    """
    base = f"{run_id}:{object_type}:{seq}"
    return base if attempt <= 1 else f"{base}:a{attempt}"
