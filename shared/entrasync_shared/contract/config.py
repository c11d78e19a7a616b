"""The config service's flows: credential profiles, tenants and the credential syncers get.

A create request and its update share one validator set (`_ProfileFields`, `_TenantFields`):
a value given is checked and normalised the same way by both. An update adds only what makes
it partial: fields may be left out but not given as null.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_serializer, field_validator

from entrasync_shared.contract.common import (
    GUID,
    MAX_ID,
    MAX_NAME,
    MAX_PEM,
    MAX_SECRET,
    Message,
    Model,
    PartialUpdate,
    Request,
    client_id_guid,
    display_name,
    if_given,
    not_null,
    some_object_types,
    tenant_domain_or_guid,
)
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES, ObjectType

MAX_GROUP_FILTERS = 100
MAX_PATH = 1024

CredentialKind = Literal["secret", "certificate", "federated"]
"""How an app proves itself: a client secret, a certificate, or workload identity federation
(a token the platform projects into a file, e.g. AKS's service-account token: no secret)."""

TOKEN_FILE_HELP = (
    "federated: where the projected service-account token is read (default: the "
    "AZURE_FEDERATED_TOKEN_FILE the service was started with)"
)


def token_file_path(value: str) -> str:
    """A federated credential's token file: an absolute path, no control characters."""
    value = display_name(value)
    if not value.startswith("/"):
        raise ValueError("must be an absolute path (the projected token file)")
    return value


def _reveal(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


# -- credential profiles ----------------------------------------------------------------------


class _ProfileFields(BaseModel):
    """The validators of `CredentialProfileCreate` and `ProfileUpdate`."""

    @field_validator("name", check_fields=False)
    @classmethod
    def _name_is_printable(cls, value: str | None) -> str | None:
        return if_given(display_name, value)

    @field_validator("client_id", check_fields=False)
    @classmethod
    def _client_id_is_guid(cls, value: str | None) -> str | None:
        return if_given(client_id_guid, value)

    @field_validator("federated_token_file", check_fields=False)
    @classmethod
    def _token_file_is_absolute(cls, value: str | None) -> str | None:
        return if_given(token_file_path, value)

    @field_serializer("client_secret", "private_key_pem", when_used="json", check_fields=False)
    def _reveal_for_config(self, value: SecretStr | None) -> str | None:
        # JSON is how this request travels to config; masking it would store "**********".
        return _reveal(value)


class CredentialProfileCreate(_ProfileFields, Request):
    """`profile.create`: give either `client_secret`, or `private_key_pem` + `certificate_pem`,
    or `kind: "federated"` (optionally with `federated_token_file`) and no secret at all."""

    name: str = Field(min_length=1, max_length=MAX_NAME)
    client_id: str = Field(description="Application (client) id of the app registration")
    kind: CredentialKind | None = Field(
        default=None, description="Left out: secret or certificate, from the fields given"
    )
    federated_token_file: str | None = Field(
        default=None, max_length=MAX_PATH, description=TOKEN_FILE_HELP
    )
    client_secret: SecretStr | None = Field(default=None, min_length=1, max_length=MAX_SECRET)
    private_key_pem: SecretStr | None = Field(
        default=None, max_length=MAX_PEM, description="PEM private key (RSA) of a certificate"
    )
    certificate_pem: str | None = Field(
        default=None, max_length=MAX_PEM, description="PEM certificate registered on the app"
    )
    secret_expires_at: date | None = None


class CredentialProfile(Model):
    """A credential profile as every API shows it: never with its secret."""

    id: str
    name: str
    client_id: str
    kind: CredentialKind = "secret"
    secret_expires_at: date | None = None
    version: int = 1
    created_at: datetime
    updated_at: datetime
    certificate_thumbprint: str | None = Field(
        default=None, description="SHA-1 thumbprint (hex) of a certificate profile"
    )
    federated_token_file: str | None = Field(default=None, description=TOKEN_FILE_HELP)
    expires_soon: bool = Field(
        default=False, description="The secret/certificate expires within 30 days (or has)"
    )
    expired: bool = False


class ProfileRef(Request):
    """`profile.get`."""

    profile_id: str = Field(max_length=MAX_ID)


class ProfileUpdate(PartialUpdate, _ProfileFields, Request):
    """`profile.update`: only the fields given change; `version` guards against lost updates.

    A new `client_secret`, or a new `private_key_pem` + `certificate_pem` pair, or
    `kind: "federated"`, replaces the credential (and may switch the profile's kind);
    `secret_expires_at: null` clears the date. A federated profile's `federated_token_file` may
    change alone.
    """

    profile_id: str = Field(max_length=MAX_ID)
    version: int = Field(ge=1, description="The version this change is based on")
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    client_id: str | None = None
    client_secret: SecretStr | None = Field(default=None, min_length=1, max_length=MAX_SECRET)
    private_key_pem: SecretStr | None = Field(default=None, max_length=MAX_PEM)
    certificate_pem: str | None = Field(default=None, max_length=MAX_PEM)
    kind: CredentialKind | None = None
    federated_token_file: str | None = Field(
        default=None, max_length=MAX_PATH, description=f"{TOKEN_FILE_HELP}; null: the default"
    )
    secret_expires_at: date | None = None

    @field_validator(
        "name",
        "client_id",
        "client_secret",
        "private_key_pem",
        "certificate_pem",
        "kind",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return not_null(value)


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


# -- tenants ----------------------------------------------------------------------------------


class TenantFilters(Model):
    exclude_guests: bool = False
    exclude_disabled: bool = False
    member_of_groups: tuple[str, ...] = ()

    @field_validator("member_of_groups")
    @classmethod
    def _group_ids_lower_cased(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Graph ids compare case-insensitively: keep one lower-cased spelling of each."""
        return tuple(dict.fromkeys(g.lower() for g in value))


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
        if not all(isinstance(g, str) and GUID.fullmatch(g) for g in groups):
            raise ValueError("member_of_groups must hold group object ids (GUIDs)")
        value = {**value, "member_of_groups": tuple(dict.fromkeys(g.lower() for g in groups))}
    return value


NEAR_REAL_TIME = (
    "Users and groups sync within seconds of a change (Graph change notifications), and are "
    "polled at a long interval as a safety net; needs ENTRASYNC_NOTIFICATION_URL"
)


class _TenantFields(BaseModel):
    """The validators of `TenantCreate` and `TenantUpdate`.

    An update's `tenant` is not among them: it is immutable, so config compares it with the
    stored value instead (a value that is not a tenant is a different tenant, not a typo).
    """

    @field_validator("name", check_fields=False)
    @classmethod
    def _name_is_printable(cls, value: str | None) -> str | None:
        return if_given(display_name, value)

    @field_validator("object_types", check_fields=False)
    @classmethod
    def _object_types_not_empty(
        cls, value: tuple[ObjectType, ...] | None
    ) -> tuple[ObjectType, ...] | None:
        return if_given(some_object_types, value)

    @field_validator("filters", mode="before", check_fields=False)
    @classmethod
    def _filters_are_known(cls, value: Any) -> Any:
        return _strict_filters(value)


class TenantCreate(_TenantFields, Request):
    tenant: str = Field(description="Verified domain (contoso.onmicrosoft.com) or tenant GUID")
    cloud: str = Field(default="global", max_length=MAX_NAME)
    profile_id: str = Field(max_length=MAX_ID)
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    enabled: bool = True
    object_types: tuple[ObjectType, ...] = DEFAULT_OBJECT_TYPES
    interval_seconds: int = Field(default=60, ge=10, le=7 * 24 * 3600)
    filters: TenantFilters = TenantFilters()
    near_real_time: bool = Field(default=False, description=NEAR_REAL_TIME)

    @field_validator("tenant")
    @classmethod
    def _tenant_is_domain_or_guid(cls, value: str) -> str:
        return tenant_domain_or_guid(value)


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
    near_real_time: bool = Field(default=False, description=NEAR_REAL_TIME)
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


class TenantUpdate(PartialUpdate, _TenantFields, Request):
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
    near_real_time: bool | None = Field(default=None, description=NEAR_REAL_TIME)
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
        "near_real_time",
        "tenant",
        "cloud",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return not_null(value)


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


# -- what a syncer needs ----------------------------------------------------------------------


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
    kind: CredentialKind = "secret"
    client_secret: SecretStr | None = None
    private_key_pem: SecretStr | None = Field(
        default=None, description="PEM private key of a certificate credential"
    )
    certificate_pem: str | None = None
    certificate_thumbprint: str | None = Field(
        default=None, description="SHA-1 thumbprint (hex) of the certificate, as MSAL wants it"
    )
    federated_token_file: str | None = Field(
        default=None,
        description="federated: the token file the profile names (None: the syncer's "
        "AZURE_FEDERATED_TOKEN_FILE); never the token itself",
    )
    cloud: CloudEndpoints
    object_types: tuple[ObjectType, ...]
    filters: TenantFilters = TenantFilters()

    @field_serializer("client_secret", "private_key_pem", when_used="json")
    def _reveal_for_the_syncer(self, value: SecretStr | None) -> str | None:
        return _reveal(value)


class KeysReencrypted(Model):
    """`keys.reencrypt`: every stored secret is now sealed with the newest key (`key_id`)."""

    key_id: str
    total: int
    reencrypted: int
    unreadable: tuple[str, ...] = Field(default=(), description="Profile ids no key opens")
