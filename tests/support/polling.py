"""Poll with a deadline, never `sleep` for a fixed time.

`eventually` is for async tests (it yields to the event loop between probes), `eventually_blocking`
for sync tests and threads. Both return the probe's last value once `accept` holds for it, and
fail with that value when `within` seconds pass first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")

WITHIN = 20.0
"""Seconds to wait by default: a service reacting on an idle machine takes well under one."""
INTERVAL = 0.05


@overload
async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    what: str = ...,
    within: float = ...,
    *,
    interval: float = ...,
) -> T: ...
@overload
async def eventually(
    probe: Callable[[], Awaitable[T]],
    what: str = ...,
    within: float = ...,
    *,
    accept: Callable[[T], object],
    interval: float = ...,
) -> T: ...
async def eventually(
    probe: Callable[[], Awaitable[T]],
    what: str = "the condition",
    within: float = WITHIN,
    *,
    accept: Callable[[T], object] = bool,
    interval: float = INTERVAL,
) -> T:
    """Await `probe()` until `accept(value)` (default: the value is truthy); return the value."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(_timed_out(what, within, value))
        await asyncio.sleep(interval)


@overload
def eventually_blocking(
    probe: Callable[[], T | None],
    what: str = ...,
    within: float = ...,
    *,
    interval: float = ...,
) -> T: ...
@overload
def eventually_blocking(
    probe: Callable[[], T],
    what: str = ...,
    within: float = ...,
    *,
    accept: Callable[[T], object],
    interval: float = ...,
) -> T: ...
def eventually_blocking(
    probe: Callable[[], T],
    what: str = "the condition",
    within: float = WITHIN,
    *,
    accept: Callable[[T], object] = bool,
    interval: float = INTERVAL,
) -> T:
    """`eventually` for sync code: call `probe()` until `accept(value)`, sleeping in between."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(_timed_out(what, within, value))
        time.sleep(interval)


def _timed_out(what: str, within: float, value: object) -> str:
    shown = repr(value)
    if len(shown) > 500:
        shown = shown[:500] + "…"
    return f"timed out after {within:g}s waiting for {what}; last value: {shown}"
