"""Pure accounting for `tenants.py`: which schedule slots ran once, twice or not at all.

A slot is the scheduler's unit (`slot = start // interval`): in steady state every enabled tenant
should run exactly once per slot. A command's `at` is its slot's start (every replica derives the
same), so a recorded run is placed in the slot of its command; a run whose command was not seen
falls back to the slot it started in. Runs asked for by hand (`manual`: `sync_now`) are outside
the schedule and not counted.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

UNSCHEDULED = frozenset({"manual"})


@dataclass(frozen=True)
class Command:
    """A `StartSync` seen on the command subjects."""

    run_id: str
    tenant_id: str
    slot_start: float  # the command's `at`, epoch seconds
    reason: str


@dataclass(frozen=True)
class Recorded:
    """A `sync.recorded` event as stored by the events stream."""

    run_id: str
    tenant_id: str
    started_at: float  # epoch seconds
    reason: str
    status: str


@dataclass(frozen=True)
class SlotReport:
    """Slots of the window checked, runs in them, repeats and holes."""

    first_slot: int
    last_slot: int
    slots_checked: int
    runs: int
    duplicate_runs: int
    missed_slots: int
    failed_runs: int
    examples: dict[str, list[str]] = field(default_factory=dict)


def whole_slots(window: tuple[float, float], interval: int) -> range:
    """The slots lying wholly inside `window` (start, end), epoch seconds."""
    start, end = window
    return range(math.ceil(start / interval), math.floor(end / interval))


def slot_of_run(run: Recorded, commands: Mapping[str, Command], interval: int) -> int:
    command = commands.get(run.run_id)
    at = command.slot_start if command is not None else run.started_at
    return int(at // interval)


def count_slots(
    tenants: Iterable[str],
    commands: Mapping[str, Command],
    recorded: Sequence[Recorded],
    interval: int,
    window: tuple[float, float],
) -> SlotReport:
    """Duplicate runs (a second run in a tenant's slot, or one run recorded twice) and missed
    slots (a tenant's slot with no run) over the slots wholly inside `window`."""
    slots = whole_slots(window, interval)
    runs_in: dict[tuple[str, int], set[str]] = defaultdict(set)
    recordings: Counter[str] = Counter()
    failed = 0
    for run in recorded:
        slot = slot_of_run(run, commands, interval)
        if run.reason in UNSCHEDULED or slot not in slots:
            continue
        runs_in[(run.tenant_id, slot)].add(run.run_id)
        recordings[run.run_id] += 1
        if recordings[run.run_id] == 1 and run.status != "Succeeded":
            failed += 1
    twice = [run_id for run_id, n in recordings.items() if n > 1]
    doubled = [key for key, runs in runs_in.items() if len(runs) > 1]
    duplicates = sum(recordings[run] - 1 for run in twice)
    duplicates += sum(len(runs_in[key]) - 1 for key in doubled)
    expected = [(tenant, slot) for tenant in tenants for slot in slots]
    missed = [key for key in expected if not runs_in.get(key)]
    return SlotReport(
        first_slot=slots.start,
        last_slot=slots.stop - 1,
        slots_checked=len(expected),
        runs=len(recordings),
        duplicate_runs=duplicates,
        missed_slots=len(missed),
        failed_runs=failed,
        examples={
            "recorded_twice": twice[:5],
            "two_runs_in_a_slot": [f"{tenant}@{slot}" for tenant, slot in doubled[:5]],
            "missed": [f"{tenant}@{slot}" for tenant, slot in missed[:5]],
        },
    )


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` in 0..1) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))]
