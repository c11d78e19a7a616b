"""The public events: directory changes and `sync.recorded`, as CloudEvents 1.0.

The `*Created`/`*Updated`/... models here are the `data` of a `CloudEvent`; consumers outside
entrasync read them (docs/consuming-events.md), so they only ever grow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from entrasync_shared.contract.common import Model, RunStatus, SyncMode, SyncReason, utcnow
from entrasync_shared.members import MemberRef, MemberType
from entrasync_shared.subjects import ContainerType, ObjectType


class ObjectCreated(Model):
    tenant_id: str
    object_type: ObjectType
    object_id: str
    run_id: str
    attributes: dict[str, Any]


class ObjectUpdated(Model):
    tenant_id: str
    object_type: ObjectType
    object_id: str
    run_id: str
    changed: dict[str, Any] = Field(description="Changed attributes with their new values")
    restored: bool = False


class ObjectDeleted(Model):
    """An object left the directory, as far as entrasync can tell.

    `reason` says how it was found out. Graph's `@removed` tells a soft delete from a purge; a
    full scan that no longer lists an object cannot (the object may be in Entra's deleted items,
    purged, or now outside the tenant's filters), so `soft` is null then rather than a guess.
    """

    tenant_id: str
    object_type: ObjectType
    object_id: str
    run_id: str
    soft: bool | None = Field(
        description=(
            "True: Graph keeps the object restorable; false: Graph deleted it for good; "
            "null: not known (reason not_seen_by_full_scan)"
        )
    )
    reason: Literal["removed", "not_seen_by_full_scan"] = Field(
        default="removed",
        description=(
            "removed: Graph reported the deletion (`@removed`); not_seen_by_full_scan: a full "
            "scan no longer listed the object"
        ),
    )


class MembersChanged(Model):
    tenant_id: str
    object_type: ObjectType
    object_id: str
    run_id: str
    added: tuple[str, ...] = Field(default=(), description="Ids of the members added")
    removed: tuple[str, ...] = Field(default=(), description="Ids of the members removed")
    added_members: tuple[MemberRef, ...] = Field(
        default=(), description="The members added, typed (same order as `added`)"
    )
    removed_members: tuple[MemberRef, ...] = Field(
        default=(), description="The members removed, typed (same order as `removed`)"
    )


class EffectiveMembershipChange(Model):
    """A group, directory role or administrative unit a principal is (or was) effectively in,
    with the path that puts (or put) it there."""

    container_type: ContainerType
    container_id: str
    role_template_id: str | None = Field(
        default=None, description="A directory role's roleTemplateId (the same in every tenant)"
    )
    path: tuple[str, ...] = Field(
        description="Container ids from the container down to the principal's direct parent "
        "(one id: a direct membership)"
    )


class EffectiveChanged(Model):
    """What one principal gained and lost, directly or through nested groups, in one change
    (docs/effective-membership.md): gains with their new path, losses with the path they had."""

    tenant_id: str
    run_id: str
    principal_type: MemberType
    principal_id: str
    gained: tuple[EffectiveMembershipChange, ...] = ()
    lost: tuple[EffectiveMembershipChange, ...] = ()
    baseline: bool = Field(
        default=False,
        description="The tenant's first computation: the principal's directory roles as they "
        "are, not a change",
    )


class TypeCounts(Model):
    """One Sync History row's numbers (definitions in the README)."""

    object_type: ObjectType
    mode: SyncMode
    reason: SyncReason
    status: RunStatus
    total: int = 0
    changed: int = 0
    deleted: int = 0
    filtered: int = 0
    error: str | None = None
    guardrail_override: str | None = Field(
        default=None, description="Operator whose override let this type's deletions through"
    )
    throttled_seconds: float = Field(
        default=0.0, ge=0, description="Seconds the syncer waited out Graph's throttling"
    )


class SyncRecorded(Model):
    """A run as recorded: from its first attempt's start to its last attempt's end."""

    tenant_id: str
    run_id: str
    mode: SyncMode
    reason: SyncReason
    status: RunStatus
    started_at: datetime = Field(description="When the run's first attempt started")
    finished_at: datetime = Field(description="When its last attempt ended")
    types: tuple[TypeCounts, ...]
    entra_tenant_id: str | None = Field(
        default=None, description="The Entra directory's GUID; null when unknown (older syncers)"
    )
    attempts: int = Field(
        default=1, ge=1, description="How many times the run was started (retries after a crash)"
    )

    def is_full_success(self) -> bool:
        """A run that read every one of its object types from scratch and succeeded: it clears
        the tenant's full-scan flag (config) and counts as the last full scan (scheduler)."""
        return (
            self.status == "Succeeded"
            and bool(self.types)
            and all(t.mode == "full" for t in self.types)
        )


D = TypeVar("D", bound=BaseModel)


_GUID_SCHEMA = "^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"


def _guid_string_schema(schema: dict[str, Any]) -> None:
    """A null is never written (the attribute is left out instead), so show only the string."""
    schema.pop("anyOf", None)
    schema.pop("default", None)
    schema.update(type="string", pattern=_GUID_SCHEMA)


class CloudEvent(Model, Generic[D]):
    """CloudEvents 1.0 structured JSON envelope; `id` is also the `Nats-Msg-Id`.

    `entratenantid` is an extension attribute: the Entra directory's GUID (the token's `tid`),
    so a consumer knows which directory an event is about without asking the API. It is left
    out, not null, when the producer did not know it (events of runs started by older syncers).
    """

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    subject: str
    time: datetime = Field(default_factory=utcnow)
    datacontenttype: Literal["application/json"] = "application/json"
    entratenantid: str | None = Field(
        default=None,
        description="Extension: the Entra directory (tenant) GUID the event is about",
        exclude_if=lambda value: value is None,
        json_schema_extra=_guid_string_schema,
    )
    data: D


def event_type(object_type: ObjectType | MemberType | None, kind: str) -> str:
    """CloudEvents `type` attribute, e.g. `io.entrasync.directory.user.created`."""
    if object_type is None:
        return f"io.entrasync.sync.{kind}"
    return f"io.entrasync.directory.{object_type}.{kind}"


SyncRecordedEvent = CloudEvent[SyncRecorded]
"""The envelope of `entrasync.sync.recorded.<tenant>`, as history publishes it."""


def tenant_source(tenant_id: str) -> str:
    """CloudEvents `source` of every public event about one tenant."""
    return f"/entrasync/tenants/{tenant_id}"


def sync_recorded_event(recorded: SyncRecorded) -> SyncRecordedEvent:
    """Wrap a run's record in its CloudEvents envelope; `id` is stable per run."""
    return SyncRecordedEvent(
        id=f"recorded:{recorded.run_id}",
        source=tenant_source(recorded.tenant_id),
        type=event_type(None, "recorded"),
        subject=recorded.run_id,
        time=recorded.finished_at,
        entratenantid=recorded.entra_tenant_id,
        data=recorded,
    )
