"""Every message entrasync puts on NATS, as frozen pydantic v2 models.

Commands are imperative (`StartSync`), events past tense (`TenantCreated`). Each message has an
`id` and a UTC timestamp `at`. Consumers ignore unknown fields so messages evolve additively;
API *requests* forbid them so a typo is an error rather than a silent default.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_serializer,
    field_validator,
)

from entrasync_shared.subjects import OBJECT_TYPES, ObjectType

SyncMode = Literal["full", "delta"]
SyncReason = Literal["first", "flag", "schedule", "manual", "notification", "resync"]
RunStatus = Literal["Running", "Succeeded", "Failed", "Cancelled"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Model(BaseModel):
    """Base of every payload: frozen, tolerant of fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Message(Model):
    """A message on the bus: stable id plus UTC timestamp."""

    id: str = Field(default_factory=new_id)
    at: datetime = Field(default_factory=utcnow)


class Request(BaseModel):
    """An API request: strict, so unknown or misspelt fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# -- config: credential profiles -----------------------------------------------------------


class CredentialProfileCreate(Request):
    name: str = Field(min_length=1, max_length=200)
    client_id: str = Field(description="Application (client) id of the app registration")
    client_secret: SecretStr = Field(min_length=1)
    secret_expires_at: date | None = None

    @field_validator("client_id")
    @classmethod
    def _client_id_is_guid(cls, value: str) -> str:
        if not _GUID.match(value):
            raise ValueError("client_id must be a GUID (the application id)")
        return value.lower()

    @field_serializer("client_secret", when_used="json")
    def _reveal_for_config(self, value: SecretStr) -> str:
        # JSON is how this request travels to config; masking it would store "**********".
        return value.get_secret_value()


class CredentialProfile(Model):
    """A credential profile as every API shows it: never with its secret."""

    id: str
    name: str
    client_id: str
    kind: Literal["secret", "certificate"] = "secret"
    secret_expires_at: date | None = None
    version: int = 1
    created_at: datetime
    updated_at: datetime


class ProfileCreated(Message):
    profile: CredentialProfile


# -- config: tenants ------------------------------------------------------------------------


class TenantFilters(Model):
    exclude_guests: bool = False
    exclude_disabled: bool = False
    member_of_groups: tuple[str, ...] = ()


class TenantCreate(Request):
    tenant: str = Field(description="Verified domain (contoso.onmicrosoft.com) or tenant GUID")
    cloud: str = "global"
    profile_id: str
    name: str | None = None
    enabled: bool = True
    object_types: tuple[ObjectType, ...] = OBJECT_TYPES
    interval_seconds: int = Field(default=60, ge=10, le=7 * 24 * 3600)
    filters: TenantFilters = TenantFilters()

    @field_validator("tenant")
    @classmethod
    def _tenant_is_domain_or_guid(cls, value: str) -> str:
        value = value.strip().lower()
        if _GUID.match(value) or _DOMAIN.match(value):
            return value
        raise ValueError("tenant must be a DNS domain (contoso.onmicrosoft.com) or a GUID")

    @field_validator("object_types")
    @classmethod
    def _object_types_not_empty(cls, value: tuple[ObjectType, ...]) -> tuple[ObjectType, ...]:
        if not value:
            raise ValueError("at least one object type is required")
        return tuple(dict.fromkeys(value))


class Tenant(Model):
    """A tenant sync policy."""

    id: str
    name: str
    tenant: str
    cloud: str
    profile_id: str
    enabled: bool
    full_scan_next: bool
    object_types: tuple[ObjectType, ...]
    interval_seconds: int
    filters: TenantFilters = TenantFilters()
    version: int = 1
    created_at: datetime
    updated_at: datetime


class TenantRef(Request):
    tenant_id: str


class TenantCreated(Message):
    tenant: Tenant


class TenantUpdated(Message):
    tenant: Tenant


class TenantDeleted(Message):
    tenant_id: str


class CloudEndpoints(Model):
    """Where a cloud's identity platform and Graph live; a custom cloud may carry its own CA."""

    name: str
    authority_host: str
    graph_url: str
    ca_pem: str | None = None


class Credential(Model):
    """What a syncer needs to read one tenant: handed out by config to syncers only."""

    tenant_id: str
    tenant: str
    client_id: str
    kind: Literal["secret", "certificate"] = "secret"
    client_secret: SecretStr | None = None
    private_key_pem: SecretStr | None = Field(
        default=None, description="PEM private key of a certificate credential"
    )
    certificate_pem: str | None = None
    certificate_thumbprint: str | None = Field(
        default=None, description="SHA-1 thumbprint (hex) of the certificate, as MSAL wants it"
    )
    cloud: CloudEndpoints
    object_types: tuple[ObjectType, ...]
    filters: TenantFilters = TenantFilters()

    @field_serializer("client_secret", "private_key_pem", when_used="json")
    def _reveal_for_the_syncer(self, value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None


# -- sync pipeline --------------------------------------------------------------------------


class StartSync(Message):
    """Command: read one tenant now. `id` is tenant + time slot, so replicas dedupe."""

    run_id: str
    tenant_id: str
    mode: SyncMode
    reason: SyncReason
    object_types: tuple[ObjectType, ...] = OBJECT_TYPES


class SyncStarted(Message):
    run_id: str
    tenant_id: str
    mode: SyncMode
    reason: SyncReason
    object_types: tuple[ObjectType, ...]


class ObservedObject(Model):
    """One object as Graph returned it in this run (attributes may be sparse on delta rounds)."""

    id: str
    attributes: dict[str, Any] = {}
    members_added: tuple[str, ...] = ()
    members_removed: tuple[str, ...] = ()


class Removal(Model):
    """An `@removed` entry: `changed` is a soft (restorable) delete, `deleted` a hard one."""

    id: str
    reason: Literal["changed", "deleted"]


class ObservationBatch(Message):
    """A page's worth of observations of one object type; `id` is run + type + seq."""

    run_id: str
    tenant_id: str
    object_type: ObjectType
    seq: int = Field(ge=0)
    attempt: int = Field(default=1, ge=1, description="Delivery attempt of the command")
    mode: SyncMode
    objects: tuple[ObservedObject, ...] = ()
    removals: tuple[Removal, ...] = ()


class TypeResult(Model):
    """How one object type fared in a run, as the syncer saw it."""

    object_type: ObjectType
    mode: SyncMode
    reason: SyncReason
    status: Literal["Succeeded", "Failed"]
    total: int = 0
    filtered: int = 0
    batches: int = 0
    error: str | None = None


class SyncFinished(Message):
    run_id: str
    tenant_id: str
    mode: SyncMode
    reason: SyncReason
    started_at: datetime
    finished_at: datetime
    results: tuple[TypeResult, ...]
    attempt: int = Field(default=1, ge=1, description="Delivery attempt of the command")

    @property
    def status(self) -> Literal["Succeeded", "Failed"]:
        ok = all(r.status == "Succeeded" for r in self.results)
        return "Succeeded" if ok else "Failed"


# -- public events (CloudEvents 1.0 data) -------------------------------------------------


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
    tenant_id: str
    object_type: ObjectType
    object_id: str
    run_id: str
    soft: bool = Field(description="True when Graph keeps the object restorable")


class MembersChanged(Model):
    tenant_id: str
    object_type: ObjectType
    object_id: str
    run_id: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


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


class SyncRecorded(Model):
    tenant_id: str
    run_id: str
    mode: SyncMode
    reason: SyncReason
    status: RunStatus
    started_at: datetime
    finished_at: datetime
    types: tuple[TypeCounts, ...]


D = TypeVar("D", bound=BaseModel)


class CloudEvent(Model, Generic[D]):
    """CloudEvents 1.0 structured JSON envelope; `id` is also the `Nats-Msg-Id`."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    subject: str
    time: datetime = Field(default_factory=utcnow)
    datacontenttype: Literal["application/json"] = "application/json"
    data: D


def event_type(object_type: ObjectType | None, kind: str) -> str:
    """CloudEvents `type` attribute, e.g. `io.entrasync.directory.user.created`."""
    if object_type is None:
        return f"io.entrasync.sync.{kind}"
    return f"io.entrasync.directory.{object_type}.{kind}"


# -- request/reply envelope -----------------------------------------------------------------


class ApiError(Model):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, invalid")
    message: str
    field: str | None = None


R = TypeVar("R")


class Reply(Model, Generic[R]):
    """Every API reply: `ok` with a `result`, or an `error`."""

    ok: bool
    result: R | None = None
    error: ApiError | None = None


class Page(Model, Generic[R]):
    items: tuple[R, ...]
    total: int
    page: int = 1
    page_size: int = 50


class Health(Model):
    service: str
    ok: bool
    details: dict[str, str] = {}


# -- history API ----------------------------------------------------------------------------


class HistoryRunsQuery(Request):
    """`history.runs.list`: a tenant's Sync History rows, newest run first."""

    tenant_id: str
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=50, ge=1, le=500)


class HistoryObjectsQuery(Request):
    """`history.objects.list`: a tenant's inventory of one object type, ordered by object id."""

    tenant_id: str
    object_type: ObjectType
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=50, ge=1, le=500)
    include_deleted: bool = True


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


class InventoryItem(Model):
    """An object of the inventory as the history API shows it."""

    tenant_id: str
    object_type: ObjectType
    object_id: str
    attributes: dict[str, Any]
    members: tuple[str, ...] = ()
    content_hash: str
    first_seen: datetime
    last_seen_run: str
    deleted: bool = False
    deleted_at: datetime | None = None
    deletion: Literal["soft", "hard"] | None = None


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
        data=recorded,
    )
