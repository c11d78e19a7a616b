"""tests/support's `eventually`: returns the first accepted value, fails with the last one."""

import pytest
from support.polling import eventually, eventually_blocking


async def test_eventually_returns_the_first_truthy_value() -> None:
    values = iter([None, 0, 7, 8])

    async def probe() -> int | None:
        return next(values)

    assert await eventually(probe, "a number", within=5, interval=0) == 7


async def test_eventually_applies_accept_to_the_value() -> None:
    values = iter([1, 2, 3, 4])

    async def probe() -> int:
        return next(values)

    assert await eventually(probe, within=5, accept=lambda n: n >= 3, interval=0) == 3


async def test_eventually_fails_with_what_it_waited_for_and_the_last_value() -> None:
    async def probe() -> list[str]:
        return ["not yet"]

    with pytest.raises(AssertionError, match=r"waiting for the run; last value: \['not yet'\]"):
        await eventually(probe, "the run", within=0.05, accept=lambda v: v == [], interval=0.01)


def test_eventually_blocking_polls_sync_probes() -> None:
    values = iter(["", "", "ready"])
    assert eventually_blocking(lambda: next(values), "ready", within=5, interval=0) == "ready"
    with pytest.raises(AssertionError, match="timed out after 0.05s waiting for nothing"):
        eventually_blocking(lambda: None, "nothing", within=0.05, interval=0.01)
