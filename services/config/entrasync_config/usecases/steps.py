"""Running the steps of a connection test against one overall deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from entrasync_shared.messages import ConnectionStep, ConnectionTestResult
from entrasync_shared.subjects import ObjectType

from entrasync_config.domain.model import ProbeFailure
from entrasync_config.domain.steps import StepName, Target, conclude, host, skipped, step

T = TypeVar("T")


class StepRecorder:
    """Runs steps against one overall deadline and records each one's outcome."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.started = time.perf_counter()
        self.deadline = self.started + target.timeout
        self.done: list[ConnectionStep] = []
        self.login = host(target.cloud.authority_host)
        self.graph = host(target.cloud.graph_url)

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
        self.done.append(step(self.target, name, duration, failure, message, object_type, warning))

    def failed(self) -> bool:
        return any(s.status == "failed" for s in self.done)

    def skip_the_rest(self) -> None:
        self.done += skipped(self.target, self.done)

    def result(
        self, tested_at: datetime, guid: str | None, display: str | None
    ) -> ConnectionTestResult:
        return conclude(self.target, self.done, tested_at, guid, display, _ms(self.started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
