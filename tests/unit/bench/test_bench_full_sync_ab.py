"""bench/full_sync_ab.py's pure parts: the medians per tree and the ratios to the first tree,
and the command line's refusals."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).parents[3] / "bench" / "full_sync_ab.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_full_sync_ab", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(e2e: float, history: float, mongod: float) -> dict[str, float]:
    return {
        "e2e_s": e2e,
        "history_cpu_s": history,
        "mongod_cpu_s": mongod,
        "syncer_cpu_s": 1.0,
        "nats_cpu_s": 1.0,
        "history_rss_mb": 90.0,
    }


def test_medians_and_ratios_to_the_first_tree() -> None:
    ab = _load()
    medians = ab.summary(
        {
            "old": [run(10, 5, 5), run(30, 6, 6), run(11, 5, 4)],
            "new": [run(16, 9, 8), run(15, 8, 7), run(40, 9, 7)],
        }
    )
    assert medians["old"]["e2e_s"] == 11 and medians["new"]["e2e_s"] == 16
    assert medians["old"]["e2e_vs_first"] == 1.0 and medians["new"]["e2e_vs_first"] == 1.45
    assert medians["new"]["history_plus_mongod_cpu_vs_first"] == round((9 + 7) / (5 + 5), 2)


def test_fewer_than_two_trees_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "2", "/tmp"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "at least two trees" in done.stderr
