"""The history API: Sync History, the inventory, tenant status, guardrail overrides and
effective membership."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from entrasync_shared.contract.common import (
    MAX_ID,
    MAX_NAME,
    MAX_SEARCH,
    Model,
    Request,
    RunStatus,
    SyncMode,
    SyncReason,
    display_name,
    search_text,
    some_object_types,
)
from entrasync_shared.members import MemberRef, MemberType
from entrasync_shared.subjects import OBJECT_TYPES, ContainerType, ObjectType

HISTORY_PAGE_SIZES = (50, 100, 1000)
"""The Sync History table's "Rows per page" choices."""


class HistoryRunsQuery(Request):
    """`history.runs.list`: a tenant's Sync History rows, newest first, with the total.

    `search` keeps the rows whose type, status or error text contains it (case-insensitive),
    whose Start Time begins with it as the console shows it ("2025-03-10 01:0"), or one of whose
    counts equals it. `changes_only` keeps the rows of runs that changed or deleted something,
    failed, were cancelled or are still running.
    """

    tenant_id: str = Field(min_length=1, max_length=MAX_ID)
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, description="Rows per page: 50, 100 or 1000")
    search: str = Field(default="", max_length=MAX_SEARCH)
    changes_only: bool = Field(
        default=False, description="Only runs with changes or errors (and running ones)"
    )

    @field_validator("page_size")
    @classmethod
    def _page_size_is_offered(cls, value: int) -> int:
        if value not in HISTORY_PAGE_SIZES:
            raise ValueError("page_size must be 50, 100 or 1000")
        return value

    @field_validator("search")
    @classmethod
    def _search_is_text(cls, value: str) -> str:
        return search_text(value)


class HistoryExportRequest(Request):
    """`history.runs.export`: the next chunk of a tenant's Sync History as CSV (RFC 4180).

    The first request has no `after`; its chunk starts with the header line. Each reply's `next`
    goes into the following request's `after` until `next` is null.
    """

    tenant_id: str = Field(min_length=1, max_length=MAX_ID)
    search: str = Field(default="", max_length=MAX_SEARCH)
    after: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    max_rows: int = Field(default=1000, ge=1, le=5000)
    changes_only: bool = Field(
        default=False, description="Only runs with changes or errors (and running ones)"
    )

    @field_validator("search")
    @classmethod
    def _search_is_text(cls, value: str) -> str:
        return search_text(value)


class HistoryExportChunk(Model):
    """CSV lines (CRLF-terminated) of up to `max_rows` rows; `next` is null on the last one."""

    csv: str
    rows: int
    next: str | None = None


class HistoryObjectsQuery(Request):
    """`history.objects.list`: a tenant's inventory of one object type, ordered by object id.

    `search` keeps the objects whose id, displayName, userPrincipalName or mail contains it.
    """

    tenant_id: str = Field(min_length=1, max_length=MAX_ID)
    object_type: ObjectType
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, le=1000)
    include_deleted: bool = True
    search: str = Field(default="", max_length=MAX_SEARCH)

    @field_validator("search")
    @classmethod
    def _search_is_text(cls, value: str) -> str:
        return search_text(value)


class HistoryObjectQuery(Request):
    """`history.objects.get`: one inventory object by its Graph id (tombstones included)."""

    tenant_id: str = Field(min_length=1, max_length=MAX_ID)
    object_type: ObjectType
    object_id: str = Field(min_length=1, max_length=MAX_NAME)


class HistoryCountsQuery(Request):
    """`history.objects.counts`: how many objects of each type the inventory holds."""

    tenant_id: str = Field(min_length=1, max_length=MAX_ID)


class TypeInventoryCount(Model):
    object_type: ObjectType
    live: int
    soft_deleted: int
    hard_deleted: int
    unseen_deleted: int = Field(
        default=0,
        description="Deleted because a full scan no longer saw them (soft or hard unknown)",
    )


class InventoryCounts(Model):
    tenant_id: str
    types: tuple[TypeInventoryCount, ...]


class TenantsStatusQuery(Request):
    """`history.tenants.status`: Last Sync Start/Status of these tenants (all when empty)."""

    tenant_ids: tuple[str, ...] = Field(default=(), max_length=1000)


class TenantSyncStatus(Model):
    """The tenant list's "Last Sync Start" and "Last Sync Status" columns."""

    tenant_id: str
    last_run_id: str
    last_sync_started_at: datetime
    last_sync_status: RunStatus
    last_sync_finished_at: datetime | None = None
    last_error: str | None = None


class TenantsSyncStatus(Model):
    """Tenants that never ran are absent."""

    items: tuple[TenantSyncStatus, ...]


class DeletedTenantsQuery(Request):
    """`history.tenants.deleted`: tenants deleted with their Sync History kept (newest first).

    With `tenant_id`, only that tenant (an empty list when it is not one of them).
    """

    tenant_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID)


class DeletedTenant(Model):
    """A tenant deleted without erasing its history: what history remembers of it."""

    tenant_id: str
    name: str = Field(description="The tenant's display name when it was deleted")
    tenant: str = Field(default="", description="Its domain or directory GUID")
    cloud: str = ""
    deleted_at: datetime


class DeletedTenants(Model):
    items: tuple[DeletedTenant, ...]


class GuardrailOverrideGrant(Request):
    """`history.guardrail.override`: let the next full run delete past the safe-delete guardrail.

    One use per object type: the first full run whose deletion sweep of that type runs after the
    grant consumes it, whether or not the guardrail would have tripped.
    """

    tenant_id: str = Field(min_length=1, max_length=MAX_ID)
    object_types: tuple[ObjectType, ...] = OBJECT_TYPES
    operator: str = Field(min_length=1, max_length=MAX_NAME, description="Who takes the call")
    note: str = Field(default="", max_length=1000)
    valid_for_seconds: int = Field(default=86400, ge=60, le=7 * 86400)

    @field_validator("operator")
    @classmethod
    def _operator_is_printable(cls, value: str) -> str:
        return display_name(value)

    @field_validator("note")
    @classmethod
    def _note_is_text(cls, value: str) -> str:
        return search_text(value)

    @field_validator("object_types")
    @classmethod
    def _object_types_not_empty(cls, value: tuple[ObjectType, ...]) -> tuple[ObjectType, ...]:
        return some_object_types(value)


class GuardrailOverride(Model):
    tenant_id: str
    object_type: ObjectType
    operator: str
    note: str = ""
    granted_at: datetime
    expires_at: datetime
    used_by_run: str | None = None
    used_at: datetime | None = None


class GuardrailOverrides(Model):
    items: tuple[GuardrailOverride, ...]


class HistoryRow(Model):
    """One Sync History row: one object type of one run."""

    tenant_id: str
    run_id: str
    object_type: ObjectType
    mode: SyncMode
    reason: SyncReason
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None = None
    total: int = 0
    changed: int = 0
    deleted: int = 0
    filtered: int = 0
    error: str | None = None
    guardrail_override: str | None = None
    received: int = Field(
        default=0, description="Objects and removals applied so far (progress of a running row)"
    )
    pages: int = Field(default=0, description="Observation batches (Graph pages) applied so far")
    attempts: int = Field(
        default=1, ge=1, description="How many times the run was started (retries after a crash)"
    )
    throttled_seconds: float = Field(
        default=0.0, ge=0, description="Seconds the syncer waited out Graph's throttling"
    )


class InventoryItem(Model):
    """An object of the inventory as the history API shows it."""

    tenant_id: str
    object_type: ObjectType
    object_id: str
    attributes: dict[str, Any]
    members: tuple[str, ...] = ()
    member_refs: tuple[MemberRef, ...] = Field(
        default=(), description="A group's live members, typed (same order as `members`)"
    )
    content_hash: str
    first_seen: datetime
    last_seen_run: str
    deleted: bool = False
    deleted_at: datetime | None = None
    deletion: Literal["soft", "hard", "unseen"] | None = Field(
        default=None,
        description="soft/hard: as Graph's `@removed` said; unseen: a full scan no longer saw it",
    )


# -- effective membership (docs/effective-membership.md) --------------------------------------


class EffectiveContainer(Model):
    """A group, directory role or administrative unit as effective membership names it."""

    type: ContainerType
    id: str
    display_name: str | None = Field(default=None, description="When the inventory knows it")
    role_template_id: str | None = Field(
        default=None, description="A directory role's roleTemplateId (the same in every tenant)"
    )


class EffectiveMember(Model):
    """A principal effectively in a container, with the path that puts it there."""

    type: MemberType
    id: str
    display_name: str | None = Field(default=None, description="When the inventory knows it")
    path: tuple[str, ...] = Field(
        description="Container ids from the container down to the member's direct parent "
        "(one id: a direct member); of the shortest chains, the smallest by ids"
    )
    direct: bool = Field(description="A direct member (a path of one)")


class EffectiveMembership(Model):
    """A container a principal is effectively in, with the path that puts it there."""

    container: EffectiveContainer
    path: tuple[str, ...] = Field(
        description="Container ids from this container down to the principal's direct parent"
    )
    direct: bool = Field(description="A direct membership (a path of one)")


class EffectiveMembersQuery(Request):
    """`history.effective.members`: who is in a group, directory role or administrative unit,
    directly or through nested groups, with paths; direct members first, then by path length
    and id. An administrative unit passes nothing on: its members are direct."""

    tenant_id: str = Field(min_length=1, max_length=MAX_ID)
    container_id: str = Field(min_length=1, max_length=MAX_NAME)
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=100, ge=1, le=1000)


class EffectiveMembers(Model):
    """One page of a container's effective members; `names` gives the display name of every
    container on the page's paths that the inventory knows."""

    tenant_id: str
    container: EffectiveContainer
    items: tuple[EffectiveMember, ...]
    total: int = Field(description="Effective members in all (direct ones included)")
    direct: int = Field(description="How many of them are direct members")
    page: int = 1
    page_size: int = 100
    names: dict[str, str] = Field(default_factory=dict)


class EffectiveMembershipsQuery(Request):
    """`history.effective.memberships`: the groups, directory roles and administrative units a
    user, group, device, service principal or contact is in, directly or through nested
    groups, with paths."""

    tenant_id: str = Field(min_length=1, max_length=MAX_ID)
    principal_id: str = Field(min_length=1, max_length=MAX_NAME)


class EffectiveMemberships(Model):
    """What a principal is effectively in: groups and roles (by type, then id), then units."""

    tenant_id: str
    principal_id: str
    principal_type: MemberType = "unknown"
    display_name: str | None = None
    items: tuple[EffectiveMembership, ...]
    names: dict[str, str] = Field(default_factory=dict)


class PrivilegedRolesQuery(Request):
    """`history.privileged.roles`: every directory role of a tenant with its direct and its
    effective members (with paths); at most `max_members` effective members per role."""

    tenant_id: str = Field(min_length=1, max_length=MAX_ID)
    max_members: int = Field(default=1000, ge=1, le=5000)


class PrivilegedRole(Model):
    """A directory role (an activated role of the tenant) and who holds it."""

    id: str
    display_name: str | None = None
    role_template_id: str | None = None
    direct_members: tuple[EffectiveMember, ...] = Field(
        description="Its assigned members: users, service principals, role-assignable groups"
    )
    effective_members: tuple[EffectiveMember, ...] = Field(
        description="Everyone holding it, directly or through a group, with paths (direct "
        "ones included; at most `max_members`)"
    )
    effective_total: int = Field(description="How many hold it in all")


class PrivilegedRoles(Model):
    """A tenant's directory roles by display name; `names` as in `EffectiveMembers`."""

    tenant_id: str
    items: tuple[PrivilegedRole, ...]
    names: dict[str, str] = Field(default_factory=dict)
