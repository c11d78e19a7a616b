"""`make bench-tenants` counts duplicate runs and missed slots exactly (bench/slots.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _load() -> ModuleType:
    path = Path(__file__).parents[3] / "bench" / "slots.py"
    spec = importlib.util.spec_from_file_location("bench_slots", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


slots = _load()
Command, Recorded, count_slots = slots.Command, slots.Recorded, slots.count_slots
INTERVAL = 60


def run(run_id: str, tenant: str, started: float, reason: str = "schedule") -> object:
    return Recorded(run_id, tenant, started, reason, "Succeeded")


def command(run_id: str, tenant: str, slot: int, reason: str = "schedule") -> object:
    return Command(run_id, tenant, float(slot * INTERVAL), reason)


def test_one_run_per_tenant_and_slot_is_neither_duplicate_nor_missed() -> None:
    commands = {f"{t}{s}": command(f"{t}{s}", t, s) for t in "ab" for s in (10, 11)}
    recorded = [run(f"{t}{s}", t, s * INTERVAL + 3) for t in "ab" for s in (10, 11)]

    report = count_slots("ab", commands, recorded, INTERVAL, (600.0, 720.0))

    assert (report.slots_checked, report.runs) == (4, 4)
    assert (report.duplicate_runs, report.missed_slots, report.failed_runs) == (0, 0, 0)


def test_a_second_run_in_a_slot_and_a_run_recorded_twice_are_duplicates() -> None:
    commands = {r: command(r, "a", 10) for r in ("r1", "r2")}
    recorded = [run("r1", "a", 601), run("r2", "a", 602), run("r2", "a", 602)]

    report = count_slots(["a"], commands, recorded, INTERVAL, (600.0, 660.0))

    assert report.duplicate_runs == 2
    assert report.examples["recorded_twice"] == ["r2"]
    assert report.examples["two_runs_in_a_slot"] == ["a@10"]


def test_a_slot_without_a_run_is_missed_and_a_late_run_counts_for_its_commands_slot() -> None:
    # The run of slot 10 started late, in slot 11; slot 11 itself never ran.
    commands = {"late": command("late", "a", 10)}
    recorded = [run("late", "a", 11 * INTERVAL + 30)]

    report = count_slots(["a"], commands, recorded, INTERVAL, (600.0, 720.0))

    assert (report.duplicate_runs, report.missed_slots) == (0, 1)
    assert report.examples["missed"] == ["a@11"]


def test_only_whole_slots_inside_the_window_count_and_manual_runs_are_ignored() -> None:
    commands = {"m": command("m", "a", 10, "manual"), "s": command("s", "a", 10)}
    recorded = [run("m", "a", 601, "manual"), run("s", "a", 602), run("x", "a", 725)]

    report = count_slots(["a"], commands, recorded, INTERVAL, (590.0, 719.0))

    assert (report.first_slot, report.last_slot, report.slots_checked) == (10, 10, 1)
    assert (report.runs, report.duplicate_runs, report.missed_slots) == (1, 0, 0)


def test_percentile_is_nearest_rank_and_none_without_values() -> None:
    assert slots.percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert slots.percentile([float(n) for n in range(1, 101)], 0.95) == 95.0
    assert slots.percentile([], 0.95) is None
