"""Every message entrasync puts on NATS, as frozen pydantic v2 models.

Commands are imperative (`StartSync`), events past tense (`TenantCreated`). Each message has an
`id` and a UTC timestamp `at`. Consumers ignore unknown fields so messages evolve additively;
API *requests* forbid them so a typo is an error rather than a silent default.
"""

from __future__ import annotations

import re
import unicodedata
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
    model_serializer,
)

from entrasync_shared.members import MemberRef
from entrasync_shared.subjects import OBJECT_TYPES, ObjectType

SyncMode = Literal["full", "delta"]
SyncReason = Literal[
    "first", "flag", "schedule", "manual", "notification", "resync", "refresh", "periodic"
]
"""Why a run (or one object type of it) happened: `refresh` renews delta links before Graph's
7-day expiry, `periodic` is the optional periodic full scan, `resync` replaces an unusable link."""
RunStatus = Literal["Running", "Succeeded", "Failed", "Cancelled"]

# Always used with `fullmatch`: `re.match` with `$` accepts a trailing newline.
_GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_DOMAIN = re.compile(r"(?=.{4,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
MAX_NAME = 200
MAX_ID = 64
MAX_SECRET = 1024
MAX_PEM = 16384
MAX_GROUP_FILTERS = 100


def display_name(value: str) -> str:
    """A human-given name: trimmed, not blank, without control characters (log injection)."""
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def tenant_domain_or_guid(value: str) -> str:
    """A tenant as admins type it: a verified DNS domain or the tenant GUID, lower-cased."""
    value = value.strip().lower()
    if _GUID.fullmatch(value) or _DOMAIN.fullmatch(value):
        return value
    raise ValueError("tenant must be a DNS domain (contoso.onmicrosoft.com) or a GUID")


def _strict_filters(value: Any) -> Any:
    """Filters as a request gives them: known keys only, group ids as GUIDs (lower-cased)."""
    if not isinstance(value, dict):
        return value
    unknown = sorted(set(value) - set(TenantFilters.model_fields))
    if unknown:
        known = ", ".join(TenantFilters.model_fields)
        raise ValueError(f"unknown filter {unknown[0]!r}; known filters: {known}")
    groups = value.get("member_of_groups")
    if isinstance(groups, list | tuple):
        if len(groups) > MAX_GROUP_FILTERS:
            raise ValueError(f"at most {MAX_GROUP_FILTERS} groups in member_of_groups")
        if not all(isinstance(g, str) and _GUID.fullmatch(g) for g in groups):
            raise ValueError("member_of_groups must hold group object ids (GUIDs)")
        value = {**value, "member_of_groups": tuple(dict.fromkeys(g.lower() for g in groups))}
    return value


def _client_id_guid(value: str) -> str:
    if not _GUID.fullmatch(value):
        raise ValueError("client_id must be a GUID (the application id)")
    return value.lower()


def _some_object_types(value: tuple[ObjectType, ...]) -> tuple[ObjectType, ...]:
    if not value:
        raise ValueError("at least one object type is required")
    return tuple(dict.fromkeys(value))


class PartialUpdate(BaseModel):
    """Mixin of `*Update` requests: they serialize only the fields given, so that a client's
    `TenantUpdate(tenant_id=..., version=3, enabled=False)` changes `enabled` and nothing else."""

    @model_serializer(mode="wrap")
    def _only_given(self, handler: Any) -> Any:
        data = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}


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
    """`profile.create`: give either `client_secret`, or `private_key_pem` + `certificate_pem`."""

    name: str = Field(min_length=1, max_length=MAX_NAME)
    client_id: str = Field(description="Application (client) id of the app registration")
    client_secret: SecretStr | None = Field(default=None, min_length=1, max_length=MAX_SECRET)
    private_key_pem: SecretStr | None = Field(
        default=None, max_length=MAX_PEM, description="PEM private key (RSA) of a certificate"
    )
    certificate_pem: str | None = Field(
        default=None, max_length=MAX_PEM, description="PEM certificate registered on the app"
    )
    secret_expires_at: date | None = None

    @field_validator("name")
    @classmethod
    def _name_is_printable(cls, value: str) -> str:
        return display_name(value)

    @field_validator("client_id")
    @classmethod
    def _client_id_is_guid(cls, value: str) -> str:
        if not _GUID.fullmatch(value):
            raise ValueError("client_id must be a GUID (the application id)")
        return value.lower()

    @field_serializer("client_secret", "private_key_pem", when_used="json")
    def _reveal_for_config(self, value: SecretStr | None) -> str | None:
        # JSON is how this request travels to config; masking it would store "**********".
        return value.get_secret_value() if value is not None else None


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
    certificate_thumbprint: str | None = Field(
        default=None, description="SHA-1 thumbprint (hex) of a certificate profile"
    )
    expires_soon: bool = Field(
        default=False, description="The secret/certificate expires within 30 days (or has)"
    )
    expired: bool = False


class ProfileRef(Request):
    """`profile.get`."""

    profile_id: str = Field(max_length=MAX_ID)


class ProfileUpdate(PartialUpdate, Request):
    """`profile.update`: only the fields given change; `version` guards against lost updates.

    A new `client_secret`, or a new `private_key_pem` + `certificate_pem` pair, replaces the
    credential (and may switch the profile's kind); `secret_expires_at: null` clears the date.
    """

    profile_id: str = Field(max_length=MAX_ID)
    version: int = Field(ge=1, description="The version this change is based on")
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    client_id: str | None = None
    client_secret: SecretStr | None = Field(default=None, min_length=1, max_length=MAX_SECRET)
    private_key_pem: SecretStr | None = Field(default=None, max_length=MAX_PEM)
    certificate_pem: str | None = Field(default=None, max_length=MAX_PEM)
    secret_expires_at: date | None = None

    @field_validator(
        "name", "client_id", "client_secret", "private_key_pem", "certificate_pem", mode="before"
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value

    @field_validator("name")
    @classmethod
    def _name_is_printable(cls, value: str) -> str:
        return display_name(value)

    @field_validator("client_id")
    @classmethod
    def _client_id_is_guid(cls, value: str) -> str:
        return _client_id_guid(value)

    @field_serializer("client_secret", "private_key_pem", when_used="json")
    def _reveal_for_config(self, value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None


class ProfileDelete(Request):
    """`profile.delete`: refused (`in_use`) while a tenant uses the profile."""

    profile_id: str = Field(max_length=MAX_ID)
    version: int | None = Field(default=None, ge=1, description="If given, must be current")


class ProfileCreated(Message):
    profile: CredentialProfile


class ProfileUpdated(Message):
    profile: CredentialProfile


class ProfileDeleted(Message):
    profile_id: str
    name: str | None = None


# -- config: tenants ------------------------------------------------------------------------


class TenantFilters(Model):
    exclude_guests: bool = False
    exclude_disabled: bool = False
    member_of_groups: tuple[str, ...] = ()

    @field_validator("member_of_groups")
    @classmethod
    def _group_ids_lower_cased(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Graph ids compare case-insensitively: keep one lower-cased spelling of each."""
        return tuple(dict.fromkeys(g.lower() for g in value))


class TenantCreate(Request):
    tenant: str = Field(description="Verified domain (contoso.onmicrosoft.com) or tenant GUID")
    cloud: str = Field(default="global", max_length=MAX_NAME)
    profile_id: str = Field(max_length=MAX_ID)
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    enabled: bool = True
    object_types: tuple[ObjectType, ...] = OBJECT_TYPES
    interval_seconds: int = Field(default=60, ge=10, le=7 * 24 * 3600)
    filters: TenantFilters = TenantFilters()

    @field_validator("tenant")
    @classmethod
    def _tenant_is_domain_or_guid(cls, value: str) -> str:
        return tenant_domain_or_guid(value)

    @field_validator("name")
    @classmethod
    def _name_is_printable(cls, value: str | None) -> str | None:
        return display_name(value) if value is not None else None

    @field_validator("object_types")
    @classmethod
    def _object_types_not_empty(cls, value: tuple[ObjectType, ...]) -> tuple[ObjectType, ...]:
        if not value:
            raise ValueError("at least one object type is required")
        return tuple(dict.fromkeys(value))

    @field_validator("filters", mode="before")
    @classmethod
    def _filters_are_known(cls, value: Any) -> Any:
        return _strict_filters(value)


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
    entra_tenant_id: str | None = Field(
        default=None,
        description="The Entra directory's GUID once resolved (at create, Test Connection or "
        "the first sync); read-only",
    )


class TenantRef(Request):
    tenant_id: str


class TenantUpdate(PartialUpdate, Request):
    """`tenant.update`: only the fields given change; `version` guards against lost updates.

    `tenant` and `cloud` are immutable: they are accepted only when equal to the stored values
    (so a client may send the whole form back), any other value is refused.
    """

    tenant_id: str = Field(max_length=MAX_ID)
    version: int = Field(ge=1, description="The version this change is based on")
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    profile_id: str | None = Field(default=None, max_length=MAX_ID)
    enabled: bool | None = None
    full_scan_next: bool | None = None
    object_types: tuple[ObjectType, ...] | None = None
    interval_seconds: int | None = Field(default=None, ge=10, le=7 * 24 * 3600)
    filters: TenantFilters | None = None
    tenant: str | None = Field(default=None, max_length=300, description="Immutable")
    cloud: str | None = Field(default=None, max_length=MAX_NAME, description="Immutable")

    @field_validator(
        "name",
        "profile_id",
        "enabled",
        "full_scan_next",
        "object_types",
        "interval_seconds",
        "filters",
        "tenant",
        "cloud",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value

    @field_validator("name")
    @classmethod
    def _name_is_printable(cls, value: str) -> str:
        return display_name(value)

    @field_validator("object_types")
    @classmethod
    def _object_types_not_empty(cls, value: tuple[ObjectType, ...]) -> tuple[ObjectType, ...]:
        return _some_object_types(value)

    @field_validator("filters", mode="before")
    @classmethod
    def _filters_are_known(cls, value: Any) -> Any:
        return _strict_filters(value)


class TenantDelete(Request):
    """`tenant.delete`: stops syncing. History is kept for audit unless `purge_history`."""

    tenant_id: str = Field(max_length=MAX_ID)
    version: int | None = Field(default=None, ge=1, description="If given, must be current")
    purge_history: bool = Field(
        default=False, description="Ask the history service to erase inventory and history"
    )


class TenantCreated(Message):
    tenant: Tenant


class TenantUpdated(Message):
    tenant: Tenant


class TenantDeleted(Message):
    tenant_id: str
    tenant: Tenant | None = Field(default=None, description="The policy as it was when deleted")
    purge_history: bool = Field(
        default=False,
        description="The admin asked to erase the tenant's inventory and history (else kept)",
    )


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


# -- config: Test Connection ----------------------------------------------------------------


class ConnectionTest(Request):
    """`connection.test`: test unsaved input (the Add window) with an existing profile."""

    tenant: str
    cloud: str = Field(default="global", max_length=MAX_NAME)
    profile_id: str = Field(max_length=MAX_ID)
    object_types: tuple[ObjectType, ...] = OBJECT_TYPES
    timeout_seconds: float | None = Field(default=None, gt=0, le=120)

    @field_validator("tenant")
    @classmethod
    def _tenant_is_domain_or_guid(cls, value: str) -> str:
        return tenant_domain_or_guid(value)

    @field_validator("object_types")
    @classmethod
    def _object_types_not_empty(cls, value: tuple[ObjectType, ...]) -> tuple[ObjectType, ...]:
        return _some_object_types(value)


class TenantTest(Request):
    """`tenant.test`: test a saved tenant with its profile and object types."""

    tenant_id: str = Field(max_length=MAX_ID)
    timeout_seconds: float | None = Field(default=None, gt=0, le=120)


StepStatus = Literal["ok", "warning", "failed", "skipped"]


class ConnectionStep(Model):
    """One step of a connection test; `error_code` is Entra's (AADSTS…) or Graph's code."""

    name: Literal["discovery", "token", "organization", "read"]
    status: StepStatus
    duration_ms: int = 0
    object_type: ObjectType | None = None
    error_code: str | None = None
    message: str | None = Field(default=None, description="What happened and what to fix")
    detail: str | None = Field(default=None, description="The service's own words, trimmed")


class ConnectionTestResult(Model):
    """The outcome of a connection test: `ok` only when every required step passed."""

    ok: bool
    tenant: str
    cloud: str
    tenant_guid: str | None = None
    display_name: str | None = None
    steps: tuple[ConnectionStep, ...]
    error_code: str | None = None
    message: str
    duration_ms: int
    tested_at: datetime


class KeysReencrypted(Model):
    """`keys.reencrypt`: every stored secret is now sealed with the newest key (`key_id`)."""

    key_id: str
    total: int
    reencrypted: int
    unreadable: tuple[str, ...] = Field(default=(), description="Profile ids no key opens")


# -- sync pipeline --------------------------------------------------------------------------


class StartSync(Message):
    """Command: read one tenant now. `id` is tenant + time slot, so replicas dedupe."""

    run_id: str
    tenant_id: str
    mode: SyncMode
    reason: SyncReason
    object_types: tuple[ObjectType, ...] = OBJECT_TYPES


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


class SyncNow(Request):
    """`scheduler.sync_now`: run the tenant at once (after its current run, if one is going)."""

    tenant_id: str = Field(max_length=64)


class SyncNowAccepted(Model):
    """The answer to `sync_now`: the run queued now, or `deferred` until `after_run` ends."""

    tenant_id: str
    status: Literal["queued", "deferred"]
    run_id: str | None = None
    mode: SyncMode | None = None
    reason: SyncReason | None = None
    after_run: str | None = None


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


def event_type(object_type: ObjectType | None, kind: str) -> str:
    """CloudEvents `type` attribute, e.g. `io.entrasync.directory.user.created`."""
    if object_type is None:
        return f"io.entrasync.sync.{kind}"
    return f"io.entrasync.directory.{object_type}.{kind}"


# -- request/reply envelope -----------------------------------------------------------------


class ApiError(Model):
    code: str = Field(
        description="Stable machine-readable code, e.g. validation, not_found, conflict, in_use"
    )
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


HISTORY_PAGE_SIZES = (50, 100, 1000)
"""The Sync History table's "Rows per page" choices."""
MAX_SEARCH = 200


def search_text(value: str) -> str:
    """What a user typed into a search box: trimmed, without control characters.

    History matches it as a literal substring only, never as a pattern or a query operator.
    """
    value = value.strip()
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError("must not contain control characters or line breaks")
    return value


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
        return _some_object_types(value)


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
