"""Pure figures of `make bench`'s near-real-time scenario (bench/near_real_time.py): its sizes,
the change -> event latencies, Graph requests per change and the notification rounds of a phase.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from slots import percentile

FULL_CHANGES, MIN_CHANGES = 200, 20
FULL_BURST, MIN_BURST = 5_000, 500
SPREAD_S = 60.0
BURST_S = 5.0
IDENTITY_ENDPOINTS = ("token", "openid-configuration", "keys")
"""The simulator's endpoint names of Entra ID, not Graph: a token is not a Graph request."""


@dataclass(frozen=True)
class Scenario:
    """Single changes spread over `spread_s`, then a burst of changes within `burst_s`."""

    changes: int
    spread_s: float
    burst: int
    burst_s: float

    @property
    def users_needed(self) -> int:
        return self.changes + self.burst


def scenario(scale: float) -> Scenario:
    """The issue's sizes (200 changes, a burst of 5,000) times `scale`, never below 20 / 500
    so a development run still shows coalescing; the durations stay: they set the rates."""
    changes = max(MIN_CHANGES, round(FULL_CHANGES * scale))
    burst = max(MIN_BURST, round(FULL_BURST * scale))
    return Scenario(changes, SPREAD_S, burst, BURST_S)


@dataclass(frozen=True)
class Round:
    """A recorded run of the tenant (history's `sync.recorded`)."""

    run_id: str
    reason: str
    started_at: float  # epoch seconds
    status: str


def rounds_since(
    recorded: Iterable[Round], since: float, reason: str = "notification"
) -> list[Round]:
    """The runs of `reason` that started at `since` or later, each once, oldest first."""
    found = {r.run_id: r for r in recorded if r.reason == reason and r.started_at >= since}
    return sorted(found.values(), key=lambda r: r.started_at)


def latency_figures(latencies: Iterable[float], changes: int) -> dict[str, float | int | None]:
    """p50/p95/max of the change -> event latencies (nearest rank), and the changes whose event
    never came."""
    values = sorted(latencies)
    return {
        "events": len(values),
        "missing": changes - len(values),
        "p50_s": _rounded(percentile(values, 0.5)),
        "p95_s": _rounded(percentile(values, 0.95)),
        "max_s": _rounded(values[-1] if values else None),
    }


def graph_requests(seen: Mapping[str, int]) -> int:
    """Graph requests among the simulator's counted ones (`*` counts every request of the
    tenant; the identity endpoints' share is taken off)."""
    return seen["*"] - sum(seen.get(name, 0) for name in IDENTITY_ENDPOINTS)


def counted_between(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


def per_change(count: int, changes: int) -> float:
    return round(count / changes, 3) if changes else 0.0


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
