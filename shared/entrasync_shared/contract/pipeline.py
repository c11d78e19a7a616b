"""The sync pipeline: the scheduler's commands and what the syncer reports to history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from entrasync_shared.contract.common import Message, Model, SyncMode, SyncReason
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES, ObjectType


class StartSync(Message):
    """Command: read one tenant now. `id` is tenant + time slot, so replicas dedupe."""

    run_id: str
    tenant_id: str
    mode: SyncMode
    reason: SyncReason
    object_types: tuple[ObjectType, ...] = DEFAULT_OBJECT_TYPES


class SyncStarted(Message):
    """A run's attempt began reading Graph; a redelivered command starts the same run again."""

    run_id: str
    tenant_id: str
    mode: SyncMode
    reason: SyncReason
    object_types: tuple[ObjectType, ...]
    attempt: int = Field(default=1, ge=1, description="Delivery attempt of the command")


class ObservedObject(Model):
    """One object as Graph returned it in this run (attributes may be sparse on delta rounds)."""

    id: str
    attributes: dict[str, Any] = {}
    members_added: tuple[str, ...] = ()
    members_removed: tuple[str, ...] = ()
    members_added_types: str = Field(
        default="",
        description="One type code per added member, in order (`entrasync_shared.members`); "
        "empty from older syncers (types unknown)",
    )
    members_removed_types: str = Field(
        default="", description="One type code per removed member, in order; may be empty"
    )


class Removal(Model):
    """An `@removed` entry: `changed` is a soft (restorable) delete, `deleted` a hard one."""

    id: str
    reason: Literal["changed", "deleted"]


class ObservationBatch(Message):
    """A page's worth of observations of one object type; `id` is run + type + seq.

    (`started_at`, `attempt`, `seq`) is the batch's observation position: it grows over the
    batches of one tenant and type across attempts and runs (one run per tenant at a time), so
    a consumer can tell a late redelivery from newer news about the same objects.
    """

    run_id: str
    tenant_id: str
    object_type: ObjectType
    seq: int = Field(ge=0, description="Order of the batch among its attempt's of this type")
    attempt: int = Field(default=1, ge=1, description="Delivery attempt of the command")
    started_at: datetime | None = Field(
        default=None,
        description="When this attempt of the run started (after taking the tenant's lease); "
        "null from older syncers (such batches are unordered)",
    )
    mode: SyncMode
    objects: tuple[ObservedObject, ...] = ()
    removals: tuple[Removal, ...] = ()
    entra_tenant_id: str | None = Field(
        default=None, description="The Entra directory's GUID; null when unknown (older syncers)"
    )


class TypeResult(Model):
    """How one object type fared in a run, as the syncer saw it."""

    object_type: ObjectType
    mode: SyncMode
    reason: SyncReason
    status: Literal["Succeeded", "Failed", "Cancelled"]
    total: int = 0
    filtered: int = 0
    batches: int = 0
    error: str | None = None
    deleted: int = Field(default=0, description="Removals (`@removed`) published")
    pages: int = Field(default=0, description="Graph pages read (every round of the type)")
    requests: int = Field(default=0, description="Graph requests made, retries included")
    throttled: int = Field(default=0, description="429/503/504 answers waited out")
    throttled_seconds: float = Field(
        default=0.0, ge=0, description="Seconds spent waiting out throttling (all its requests)"
    )


class SyncFinished(Message):
    run_id: str
    tenant_id: str
    mode: SyncMode
    reason: SyncReason
    started_at: datetime
    finished_at: datetime
    results: tuple[TypeResult, ...]
    attempt: int = Field(default=1, ge=1, description="Delivery attempt of the command")
    entra_tenant_id: str | None = Field(
        default=None, description="The Entra directory's GUID; null when unknown (older syncers)"
    )

    @property
    def status(self) -> Literal["Succeeded", "Failed", "Cancelled"]:
        if any(r.status == "Cancelled" for r in self.results):
            return "Cancelled"
        ok = all(r.status == "Succeeded" for r in self.results)
        return "Succeeded" if ok else "Failed"
