"""Test Connection (`connection.test`, `tenant.test`): can entrasync read a tenant?"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from entrasync_shared.contract.common import (
    MAX_ID,
    MAX_NAME,
    Model,
    Request,
    some_object_types,
    tenant_domain_or_guid,
)
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES, ObjectType


class ConnectionTest(Request):
    """`connection.test`: test unsaved input (the Add window) with an existing profile."""

    tenant: str
    cloud: str = Field(default="global", max_length=MAX_NAME)
    profile_id: str = Field(max_length=MAX_ID)
    object_types: tuple[ObjectType, ...] = DEFAULT_OBJECT_TYPES
    timeout_seconds: float | None = Field(default=None, gt=0, le=120)

    @field_validator("tenant")
    @classmethod
    def _tenant_is_domain_or_guid(cls, value: str) -> str:
        return tenant_domain_or_guid(value)

    @field_validator("object_types")
    @classmethod
    def _object_types_not_empty(cls, value: tuple[ObjectType, ...]) -> tuple[ObjectType, ...]:
        return some_object_types(value)


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
