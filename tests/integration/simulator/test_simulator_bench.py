"""The simulator speed benchmark runs end to end (tiny tenant), so its README stays true."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_BENCH = Path(__file__).parents[3] / "bench" / "simulator" / "bench_simulator.py"


def test_the_speed_benchmark_reports_first_rounds_of_fresh_simulators_and_syncer_runs(
    tmp_path: Path,
) -> None:
    report_file = tmp_path / "report.json"
    tiny = ["--users", "300", "--groups", "20", "--devices", "30"]
    subprocess.run(
        [sys.executable, str(_BENCH), *tiny, "--first-rounds", "2", "--syncer-runs", "1"]
        + ["--json", str(report_file)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    report = json.loads(report_file.read_text())

    rounds = {row["name"]: row for row in report["rounds"]}
    assert rounds["served user x1 (first round, 2 fresh simulators)"]["pages"] == 2 * 2
    assert rounds["served user x1 (first round, 2 fresh simulators)"]["objects"] == 2 * 300
    assert rounds["served device x1 (first round, 2 fresh simulators)"]["objects"] == 2 * 30
    assert [run["status"] for run in report["syncer_runs"]] == ["Succeeded"] * 3
    for comparison in report["capacity_vs_syncer_run"]:
        assert len(comparison["simulator_ms_per_page_each_first_round"]) == 2
        assert comparison["syncer_pages_per_s"] > 0
