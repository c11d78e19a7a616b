"""`make bench`'s effective-membership figures (bench/effective_figures.py, issue 20.6): the
nested chain, the percentile, the summary keys and their targets, the printed line."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).parents[3] / "bench"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


figures = _load("effective_figures")


def _resolve(operations: list[dict[str, Any]]) -> tuple[list[str], set[tuple[str, str]]]:
    """The groups a batch creates and its (container, member) edges, `$n` resolved as the
    simulator does."""
    ids: list[str] = []
    edges = set()
    for n, op in enumerate(operations):
        if op["op"] == "create":
            assert op["type"] == "group"
            ids.append(f"g{n}")
        else:
            assert op["op"] == "add_member"
            group, member = (ids[int(op[k][1:])] for k in ("group_id", "member_id"))
            edges.add((group, member))
            ids.append(group)
    return ids, edges


def test_the_chain_nests_each_group_in_the_one_before() -> None:
    ids, edges = _resolve(figures.chain_operations(5))
    assert edges == {("g0", "g1"), ("g1", "g2"), ("g2", "g3"), ("g3", "g4")}
    # The innermost group (the result's depth-th id) sits under four groups.
    assert ids[4] == "g4"


def test_the_chain_groups_are_security_groups() -> None:
    # The simulator refuses a group in a Microsoft 365 group, as Entra does.
    for op in figures.chain_operations(3):
        if op["op"] == "create":
            assert op["attrs"]["securityEnabled"] is True
            assert op["attrs"]["groupTypes"] == []


def test_the_default_chain_puts_its_innermost_group_four_deep() -> None:
    _, edges = _resolve(figures.chain_operations())
    assert figures.CHAIN_DEPTH == 5 and len(edges) == 4


def test_a_chain_of_one_has_no_nesting_and_of_none_is_refused() -> None:
    assert [op["op"] for op in figures.chain_operations(1)] == ["create"]
    with pytest.raises(ValueError):
        figures.chain_operations(0)


def test_nearest_rank_matches_the_bench_rank() -> None:
    values = [float(n) for n in range(20, 0, -1)]
    assert figures.nearest_rank(values, 0.95) == 19.0  # sorted[int(0.95 * 19)] = sorted[18]
    assert figures.nearest_rank(values, 0.5) == 10.0
    assert figures.nearest_rank([], 0.95) is None


def test_latency_figures_count_the_missing_events() -> None:
    found = figures.latency_figures([0.2, 0.4, 0.3], [0.25, 0.45, 0.35], rounds=5)
    assert found == {
        "rounds": 5,
        "missing": 2,
        "p50_s": 0.3,
        "p95_s": 0.3,
        "max_s": 0.4,
        "from_change_p95_s": 0.35,
    }
    none = figures.latency_figures([], [], rounds=3)
    assert none["missing"] == 3 and none["p95_s"] is None and none["max_s"] is None


def test_rss_ratio() -> None:
    assert figures.rss_ratio(110.0, 100.0) == 0.1
    assert figures.rss_ratio(95.0, 100.0) == -0.05
    assert figures.rss_ratio(95.0, 0.0) is None


def _effective() -> dict[str, Any]:
    return {
        "full": {
            "wall_s": 2.9,
            "cpu_s": 2.7,
            "edges": 512345,
            "nested_groups": 2736,
            "role_holders": 10284,
        },
        "history_peak_rss_mb_first_sync": 393.4,
        "latency": {
            "chain_depth": 5,
            **figures.latency_figures([0.5] * 19 + [0.9], [0.6] * 20, rounds=20),
        },
        "rss_rounds": {"memberships_peak_rss_mb": 420.0, "plain_peak_rss_mb": 400.0},
    }


def test_the_summary_has_issue_20s_keys_and_each_has_a_target() -> None:
    summary = figures.summary(_effective())
    assert summary == {
        "effective_membership_full_s": 2.9,
        "effective_membership_rss_mb": 393.4,
        "effective_event_latency_p95_s": 0.5,
        "effective_1pct_round_rss_vs_plain": 0.05,
    }
    assert set(figures.TARGETS) == set(summary)


def test_the_bench_targets_include_the_effective_ones() -> None:
    bench = _load("sync_vs_sdk")
    for key, target in figures.TARGETS.items():
        assert bench.TARGETS[key] == target


def test_the_note_names_the_figures() -> None:
    line = figures.note(_effective())
    assert "2.90 s" in line and "2.70 s CPU" in line and "512345 edges" in line
    assert "393 MB" in line and "0.50 s" in line
    assert "nested 4 deep" in line and "+5.0%" in line and "missing" not in line


def test_the_ceilings_read_every_type_the_bench_tenant_syncs() -> None:
    # A fair ratio: the raw fetch and sink ceilings walk the same eight rounds as entrasync.
    from entrasync_shared.subjects import OBJECT_TYPES

    common = _load("common")
    assert common.OBJECT_TYPES == OBJECT_TYPES
    assert {"servicePrincipal", "directoryRole", "orgContact"} <= set(common.OBJECT_TYPES)


def test_the_bench_commands_sync_every_type() -> None:
    # StartSync defaults to users, groups and devices: the bench's own commands (it plays the
    # scheduler) must name the eight types, or the new types are never read.
    from entrasync_shared.subjects import OBJECT_TYPES

    bench = _load("sync_vs_sdk")
    command = bench.start_sync("t1", "full")
    assert command.object_types == OBJECT_TYPES
    assert (command.tenant_id, command.mode, command.reason) == ("t1", "full", "manual")


def _groups() -> list[dict[str, Any]]:
    return [
        {"id": f"g{n}", "members": [f"u{m}" for m in range(n * 10, n * 10 + 50)]} for n in range(20)
    ]


def test_membership_changes_touch_the_share_of_memberships() -> None:
    import random

    groups, users = _groups(), [f"u{n}" for n in range(300)]
    held = {(g["id"], m) for g in groups for m in g["members"]}
    operations = figures.membership_changes(groups, users, random.Random(1), share=0.1)
    assert len(operations) == 100  # a tenth of 1,000 memberships
    removed = {(o["group_id"], o["member_id"]) for o in operations if o["op"] == "remove_member"}
    added = {(o["group_id"], o["member_id"]) for o in operations if o["op"] == "add_member"}
    assert len(removed) == len(added) == 50
    assert removed <= held and not added & held


def test_membership_changes_are_reproducible_and_at_least_two() -> None:
    import random

    groups, users = _groups(), [f"u{n}" for n in range(300)]
    one = figures.membership_changes(groups, users, random.Random(5), share=0.0001)
    assert len(one) == 2
    assert one == figures.membership_changes(groups, users, random.Random(5), share=0.0001)


def test_membership_changes_stop_when_no_addition_is_left() -> None:
    import random

    groups = [{"id": "g", "members": ["u1"]}]
    operations = figures.membership_changes(groups, ["u1"], random.Random(0), share=1.0)
    assert operations == [{"op": "remove_member", "group_id": "g", "member_id": "u1"}]


HISTORY_LOG = """\
2026-12-07 07:51:25,678 INFO entrasync_history Processed
2026-12-07 07:51:25,719 INFO entrasync_history Received
2026-12-07 07:51:26,219 INFO entrasync_history.usecases.effective tenant t1: effective membership \
computed in 0.412 s (0.398 s CPU; 5210 edges, 131 nested groups, 98 role holders)
2026-12-07 07:51:26,263 INFO entrasync_history Processed
2026-12-07 07:51:27,333 INFO entrasync_history Received
"""


def test_the_first_computation_is_read_from_historys_own_log_line() -> None:
    assert figures.computed_in_history(HISTORY_LOG.splitlines()) == {
        "wall_s": 0.412,
        "cpu_s": 0.398,
        "edges": 5210,
        "nested_groups": 131,
        "role_holders": 98,
    }


def test_the_summary_takes_the_in_history_duration() -> None:
    effective = {**_effective(), "full": figures.computed_in_history(HISTORY_LOG.splitlines())}
    assert figures.summary(effective)["effective_membership_full_s"] == 0.412


def test_no_computation_logged_gives_none() -> None:
    lines = HISTORY_LOG.splitlines()
    assert figures.computed_in_history([lines[0], lines[3]]) is None
    # A line without the duration (history before it timed its computation) is not a figure.
    old = "tenant t1: effective membership computed (131 nested groups, 98 role holders)"
    assert figures.computed_in_history([old]) is None
    effective = {**_effective(), "full": None}
    assert figures.summary(effective)["effective_membership_full_s"] is None
    assert "not logged by history" in figures.note(effective)


class _EmptyInventory:
    async def every_container(self, tenant_id: str) -> AsyncIterator[Any]:
        for _ in ():
            yield


async def test_the_parser_reads_the_line_history_logs(caplog: pytest.LogCaptureFixture) -> None:
    from entrasync_history.usecases.effective import Cause, first_computation
    from entrasync_shared.subjects import Names

    cause = Cause(Names("bench"), "t1", "r1", "finish", datetime(2027, 1, 1, tzinfo=UTC))
    with caplog.at_level(logging.INFO, logger="entrasync_history.usecases.effective"):
        await first_computation(_EmptyInventory(), cause, [])  # type: ignore[arg-type]
    found = figures.computed_in_history([r.getMessage() for r in caplog.records])
    assert found is not None
    assert (found["edges"], found["nested_groups"], found["role_holders"]) == (0, 0, 0)
