"""What every message shares: base classes, the reply envelope, field types and validators.

Consumers ignore unknown fields so messages evolve additively; API *requests* forbid them so a
typo is an error rather than a silent default.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from entrasync_shared.subjects import ObjectType

SyncMode = Literal["full", "delta"]
SyncReason = Literal[
    "first", "flag", "schedule", "manual", "notification", "resync", "refresh", "periodic"
]
"""Why a run (or one object type of it) happened: `refresh` renews delta links before Graph's
7-day expiry, `periodic` is the optional periodic full scan, `resync` replaces an unusable link."""
RunStatus = Literal["Running", "Succeeded", "Failed", "Cancelled"]

# Always used with `fullmatch`: `re.match` with `$` accepts a trailing newline.
GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_DOMAIN = re.compile(r"(?=.{4,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
MAX_NAME = 200
MAX_ID = 64
MAX_SECRET = 1024
MAX_PEM = 16384
MAX_SEARCH = 200

T = TypeVar("T")


def utcnow() -> datetime:
    """The current time in UTC (the `at` of a new message)."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh message id: 32 hex digits."""
    return uuid.uuid4().hex


# -- validators shared by requests ------------------------------------------------------------


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value)


def display_name(value: str) -> str:
    """A human-given name: trimmed, not blank, without control characters (log injection)."""
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if _has_control_characters(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def search_text(value: str) -> str:
    """What a user typed into a search box: trimmed, without control characters.

    History matches it as a literal substring only, never as a pattern or a query operator.
    """
    value = value.strip()
    if _has_control_characters(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def tenant_domain_or_guid(value: str) -> str:
    """A tenant as admins type it: a verified DNS domain or the tenant GUID, lower-cased."""
    value = value.strip().lower()
    if GUID.fullmatch(value) or _DOMAIN.fullmatch(value):
        return value
    raise ValueError("tenant must be a DNS domain (contoso.onmicrosoft.com) or a GUID")


def client_id_guid(value: str) -> str:
    """An application (client) id: a GUID, lower-cased."""
    if not GUID.fullmatch(value):
        raise ValueError("client_id must be a GUID (the application id)")
    return value.lower()


def some_object_types(value: tuple[ObjectType, ...]) -> tuple[ObjectType, ...]:
    """At least one object type, each once, in the order given."""
    if not value:
        raise ValueError("at least one object type is required")
    return tuple(dict.fromkeys(value))


def if_given(check: Callable[[T], T], value: T | None) -> T | None:
    """Apply `check` to a value that is there: the same rule serves a create request (where
    the field may be required) and an update (where null is refused separately)."""
    return None if value is None else check(value)


def not_null(value: Any) -> Any:
    """An update's field may be left out, but not given as null."""
    if value is None:
        raise ValueError("may not be null; leave the field out to keep its value")
    return value


# -- base classes -----------------------------------------------------------------------------


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


class PartialUpdate(BaseModel):
    """Mixin of `*Update` requests: they serialize only the fields given, so that a client's
    `TenantUpdate(tenant_id=..., version=3, enabled=False)` changes `enabled` and nothing else."""

    @model_serializer(mode="wrap")
    def _only_given(self, handler: Any) -> Any:
        data = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}


# -- request/reply envelope -------------------------------------------------------------------


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
