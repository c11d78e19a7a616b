"""Plain helpers for the browser tests: the stack's settings, screenshots, a stand-in syncer.

(The console tests' helpers live in another directory, which pytest does not put on the path
when it collects this one, hence the few lines these two modules share.)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import nats
from entrasync_devtools.keys import new_encryption_key
from entrasync_devtools.stack import SimulatorCloud
from entrasync_shared.messages import SyncFinished, SyncStarted, TypeResult
from entrasync_shared.subjects import OBJECT_TYPES, Names
from entrasync_sim.launcher import SimulatorProcess
from playwright.async_api import Page

T = TypeVar("T")
CLOUD = "simlab"
CHROMIUM = Path("/usr/bin/chromium")
SEEDED_RUNS = 40


def stack_environment(sim: SimulatorProcess, workdir: Path) -> tuple[dict[str, str], str]:
    cloud = SimulatorCloud(CLOUD, sim.authority_host, sim.graph_url, sim.ca_file)
    env = {
        "ENTRASYNC_CLOUDS": cloud.as_setting(),
        "ENTRASYNC_CONFIG_ENCRYPTION_KEY": new_encryption_key(),
        "ENTRASYNC_CONFIG_DB": f"browser_config_{workdir.name}",
        "ENTRASYNC_HISTORY_DB": f"browser_history_{workdir.name}",
        "ENTRASYNC_SCHEDULER_JITTER_SECONDS": "0",
        "ENTRASYNC_CONFIG_TEST_TIMEOUT_SECONDS": "15",
    }
    prefix = "ui" + workdir.name.replace("_", "").replace("-", "")[-8:]
    return env, prefix


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def eventually(probe: Callable[[], T | None], what: str, within: float = 60.0) -> T:
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        time.sleep(0.2)


async def until(probe: Callable[[], Awaitable[T | None]], what: str, within: float = 60.0) -> T:
    """`eventually` for async tests: polls without blocking the event loop (and Playwright)."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.25)


class Screenshots:
    """Full-page screenshots of each screen, kept under the test session's tmp directory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def take(self, page: Page, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        await page.screenshot(path=path, full_page=True)
        return path


async def _publish_runs(nats_url: str, names: Names, tenant_id: str, runs: int) -> list[str]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    # Recent runs: history hides rows past its retention period.
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=runs + 1)
    run_ids = []
    try:
        for n in range(runs):
            run_id = uuid.uuid4().hex
            started = base + timedelta(hours=n)
            common: dict[str, Any] = {
                "run_id": run_id,
                "tenant_id": tenant_id,
                "mode": "delta",
                "reason": "schedule",
            }
            messages: list[tuple[str, SyncStarted | SyncFinished]] = [
                ("started", SyncStarted(**common, object_types=OBJECT_TYPES, at=started)),
                (
                    "finished",
                    SyncFinished(
                        **common,
                        started_at=started,
                        finished_at=started + timedelta(seconds=30),
                        results=tuple(
                            TypeResult(
                                object_type=t,
                                mode="delta",
                                reason="schedule",
                                status="Failed" if n % 10 == 9 and t == "device" else "Succeeded",
                                error="throttled by Graph"
                                if n % 10 == 9 and t == "device"
                                else None,
                                total=n + 1,
                            )
                            for t in OBJECT_TYPES
                        ),
                    ),
                ),
            ]
            for kind, message in messages:
                await js.publish(
                    names.run_event(tenant_id, kind),  # type: ignore[arg-type]
                    message.model_dump_json().encode(),
                    stream=names.pipeline_stream,
                    headers={"Nats-Msg-Id": f"{run_id}:{kind}"},
                )
            run_ids.append(run_id)
    finally:
        await nc.close()
    return run_ids


def seed_history(nats_url: str, names: Names, tenant_id: str, runs: int) -> list[str]:
    """Publish `runs` finished runs of the tenant as a syncer would (one row per object type).

    Hourly, ending an hour ago; every tenth run's devices Failed ("throttled by Graph").
    """
    return asyncio.run(_publish_runs(nats_url, names, tenant_id, runs))
