"""Plain helpers for the browser tests: the stack's settings, screenshots, a stand-in syncer.

(The console tests' helpers live in another directory, which pytest does not put on the path
when it collects this one, hence the few lines these two modules share.)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from entrasync_devtools.history_seed import seed_history  # noqa: F401 - re-exported
from entrasync_devtools.stack import simulated_stack_settings
from entrasync_sim.launcher import SimulatorProcess
from playwright.async_api import Page

T = TypeVar("T")
CLOUD = "simlab"
CHROMIUM = Path("/usr/bin/chromium")
SEEDED_RUNS = 40


def stack_environment(sim: SimulatorProcess, workdir: Path) -> tuple[dict[str, str], str]:
    """Settings every service of a test stack gets, and the stack's subject prefix."""
    extra = {"ENTRASYNC_CONFIG_TEST_TIMEOUT_SECONDS": "15"}
    return simulated_stack_settings(sim, workdir, "browser", prefix_label="ui", extra=extra)


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
