"""The steps of a connection test: what each one reports, and the test's overall result.

Timing and the deadline are `usecases.steps.StepRecorder`'s; this module only decides what a
step says (never a secret) and what the whole test concludes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from entrasync_shared.messages import (
    CloudEndpoints,
    ConnectionStep,
    ConnectionTestResult,
    StepStatus,
)
from entrasync_shared.subjects import ObjectType

from entrasync_config.domain.model import ClientCredential, ProbeFailure

StepName = Literal["discovery", "token", "organization", "read"]
MAX_DETAIL = 300


@dataclass(frozen=True)
class Target:
    """What to test: a tenant in a cloud, an app credential, the object types to prove."""

    tenant: str
    cloud_name: str
    cloud: CloudEndpoints
    credential: ClientCredential
    object_types: tuple[ObjectType, ...]
    timeout: float


def host(url: str) -> str:
    return urlsplit(url).hostname or url


def redact(text: str | None, secrets: tuple[str, ...]) -> str | None:
    """Defence in depth: upstream words never quote a secret, but if they did, hide it."""
    if text is None:
        return None
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text[:MAX_DETAIL]


def step(
    target: Target,
    name: StepName,
    duration: int,
    failure: ProbeFailure | None = None,
    message: str | None = None,
    object_type: ObjectType | None = None,
    warning: bool = False,
) -> ConnectionStep:
    """One step's outcome, with the secrets of `target`'s credential redacted."""
    status: StepStatus = "ok" if failure is None else "warning" if warning else "failed"
    secrets = target.credential.secrets()
    return ConnectionStep(
        name=name,
        status=status,
        duration_ms=duration,
        object_type=object_type,
        error_code=failure.code if failure else None,
        message=redact(message, secrets),
        detail=redact(failure.detail, secrets) if failure and failure.detail else None,
    )


def skipped(target: Target, done: Sequence[ConnectionStep]) -> list[ConnectionStep]:
    """The planned steps after those `done`, marked skipped."""
    planned: list[tuple[StepName, ObjectType | None]] = [
        ("discovery", None),
        ("token", None),
        ("organization", None),
        *(("read", o) for o in target.object_types),
    ]
    return [
        ConnectionStep(name=name, status="skipped", object_type=object_type)
        for name, object_type in planned[len(done) :]
    ]


def conclude(
    target: Target,
    done: Sequence[ConnectionStep],
    tested_at: datetime,
    guid: str | None,
    display: str | None,
    duration_ms: int,
) -> ConnectionTestResult:
    """The test's result: the first failure's words, or what works, plus every warning."""
    first_failure = next((s for s in done if s.status == "failed"), None)
    warnings = [s.message for s in done if s.status == "warning" and s.message]
    if first_failure is not None:
        message = first_failure.message or "The connection test failed."
    else:
        types = ", ".join(f"{o}s" for o in target.object_types)
        message = (
            f"Connected to {display or target.tenant} ({guid}) as app "
            f"{target.credential.client_id}; reading {types} works."
        )
    return ConnectionTestResult(
        ok=first_failure is None,
        tenant=target.tenant,
        cloud=target.cloud_name,
        tenant_guid=guid,
        display_name=display,
        steps=tuple(done),
        error_code=first_failure.error_code if first_failure else None,
        message=" ".join([message, *warnings]),
        duration_ms=duration_ms,
        tested_at=tested_at,
    )
