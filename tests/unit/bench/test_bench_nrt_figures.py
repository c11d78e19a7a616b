"""`make bench`'s near-real-time figures (bench/nrt_figures.py): sizes, latencies, requests
per change and the notification rounds of a phase."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).parents[3] / "bench"


def _load() -> ModuleType:
    # nrt_figures imports its sibling `slots` as the bench scripts do (bench/ on the path).
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_nrt_figures", BENCH / "nrt_figures.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while defining
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


figures = _load()
Round = figures.Round


def test_the_full_scenario_is_the_issues_and_a_small_one_keeps_a_floor() -> None:
    full = figures.scenario(1.0)
    assert (full.changes, full.spread_s, full.burst, full.burst_s) == (200, 60.0, 5000, 5.0)
    small = figures.scenario(0.05)
    assert (small.changes, small.burst, small.users_needed) == (20, 500, 520)
    assert figures.scenario(0.5).burst == 2500


def test_rounds_of_a_phase_are_notification_rounds_started_since_it_began_each_once() -> None:
    recorded = [
        Round("before", "notification", 99.0, "Succeeded"),
        Round("poll", "refresh", 101.0, "Succeeded"),
        Round("b", "notification", 105.0, "Succeeded"),
        Round("a", "notification", 100.0, "Failed"),
        Round("b", "notification", 105.0, "Succeeded"),  # recorded twice: one round
    ]

    rounds = figures.rounds_since(recorded, 100.0)

    assert [r.run_id for r in rounds] == ["a", "b"]


def test_latencies_give_nearest_rank_percentiles_and_count_missing_events() -> None:
    latencies = [0.1 * n for n in range(1, 21)]  # 0.1 .. 2.0

    result = figures.latency_figures(reversed(latencies), 22)

    assert result == {"events": 20, "missing": 2, "p50_s": 1.0, "p95_s": 1.9, "max_s": 2.0}
    assert figures.latency_figures([], 3) == {
        "events": 0,
        "missing": 3,
        "p50_s": None,
        "p95_s": None,
        "max_s": None,
    }


def test_graph_requests_leave_out_entra_ids_endpoints() -> None:
    before = {"*": 10, "*/delta": 4, "token": 1, "openid-configuration": 0, "keys": 0}
    after = {"*": 25, "*/delta": 14, "token": 3, "openid-configuration": 1, "keys": 1}

    seen = figures.counted_between(before, after)

    assert figures.graph_requests(seen) == 11
    assert figures.per_change(11, 20) == 0.55
    assert figures.per_change(3, 0) == 0.0
