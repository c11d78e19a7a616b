"""Recording the steps of a connection test against one overall deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from entrasync_shared.messages import (
    CloudEndpoints,
    ConnectionStep,
    ConnectionTestResult,
    StepStatus,
)
from entrasync_shared.subjects import ObjectType

from entrasync_config.domain.ports import ClientCredential, ProbeFailure

T = TypeVar("T")
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


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def redact(text: str | None, secrets: tuple[str, ...]) -> str | None:
    """Defence in depth: upstream words never quote a secret, but if they did, hide it."""
    if text is None:
        return None
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text[:MAX_DETAIL]


class StepRecorder:
    """Runs steps against one overall deadline and records each one's outcome."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.started = time.perf_counter()
        self.deadline = self.started + target.timeout
        self.done: list[ConnectionStep] = []
        self.login = _host(target.cloud.authority_host)
        self.graph = _host(target.cloud.graph_url)

    async def run(
        self, call: Callable[[float], Awaitable[T]]
    ) -> tuple[T | None, ProbeFailure | None, int]:
        """`call(remaining seconds)`'s value, or the failure; plus the duration in ms."""
        started = time.perf_counter()
        remaining = self.deadline - started
        if remaining <= 0:
            return None, ProbeFailure("timeout"), 0
        try:
            async with asyncio.timeout(remaining):
                value = await call(remaining)
        except TimeoutError:
            return None, ProbeFailure("timeout"), _ms(started)
        except ProbeFailure as failure:
            return None, failure, _ms(started)
        return value, None, _ms(started)

    def add(
        self,
        name: StepName,
        duration: int,
        failure: ProbeFailure | None = None,
        message: str | None = None,
        object_type: ObjectType | None = None,
        warning: bool = False,
    ) -> None:
        status: StepStatus = "ok" if failure is None else "warning" if warning else "failed"
        secrets = self.target.credential.secrets()
        self.done.append(
            ConnectionStep(
                name=name,
                status=status,
                duration_ms=duration,
                object_type=object_type,
                error_code=failure.code if failure else None,
                message=redact(message, secrets),
                detail=redact(failure.detail, secrets) if failure and failure.detail else None,
            )
        )

    def failed(self) -> bool:
        return any(step.status == "failed" for step in self.done)

    def skip_the_rest(self) -> None:
        planned: list[tuple[StepName, ObjectType | None]] = [
            ("discovery", None),
            ("token", None),
            ("organization", None),
            *(("read", o) for o in self.target.object_types),
        ]
        for name, object_type in planned[len(self.done) :]:
            self.done.append(ConnectionStep(name=name, status="skipped", object_type=object_type))

    def result(
        self, tested_at: datetime, guid: str | None, display: str | None
    ) -> ConnectionTestResult:
        target = self.target
        first_failure = next((s for s in self.done if s.status == "failed"), None)
        warnings = [s.message for s in self.done if s.status == "warning" and s.message]
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
            steps=tuple(self.done),
            error_code=first_failure.error_code if first_failure else None,
            message=" ".join([message, *warnings]),
            duration_ms=_ms(self.started),
            tested_at=tested_at,
        )


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
