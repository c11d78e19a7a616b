"""Fakes of service ports that more than one suite uses (a suite's own fakes stay in it)."""

from __future__ import annotations


class FakeClock:
    """The scheduler's `Clock`: wall-clock seconds that move only when the test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
