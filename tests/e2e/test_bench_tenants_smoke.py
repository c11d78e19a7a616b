"""`make bench-tenants` runs from end to end (tiny sizes), so its harness and README stay true.

The benchmark itself starts everything it measures (NATS, MongoDB, two simulators, every
service as processes); this runs it with four tenants, a 10 s interval and a 20 s steady state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_BENCH = Path(__file__).parents[2] / "bench" / "tenants.py"
_TINY = [
    *("--tenants", "4", "--users", "20", "--groups", "4", "--devices", "5"),
    *("--interval", "10", "--steady-seconds", "20", "--change-share", "0.5"),
    *("--big-users", "1000", "--min-probes", "2", "--probe-every", "0.5"),
    *("--probe-timeout", "60", "--first-sync-timeout", "120", "--no-compare-history"),
]


def test_the_many_tenants_benchmark_writes_its_summary_and_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(_BENCH), *_TINY, "--results", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "tenants-latest.json").read_text())["summary"]

    assert summary["tenants"] == 4
    assert summary["first_sync_all_s"] > 0
    assert summary["duplicate_runs"] == 0
    assert isinstance(summary["missed_slots"], int)
    assert summary["small_tenant_event_p95_during_big_full_s"] is not None
    assert summary["history_replicas_speedup"] is None  # --no-compare-history
    assert set(summary["cpu_percent_steady"]) >= {"scheduler-0", "scheduler-1", "history-1"}
    assert "| duplicate runs / missed slots" in done.stdout
