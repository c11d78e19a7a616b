"""bench/effective.py (the effective-membership micro-benchmark) runs and reports what it says,
on a hundredth of the tenant."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _load() -> ModuleType:
    path = Path(__file__).parents[3] / "bench" / "effective.py"
    spec = importlib.util.spec_from_file_location("bench_effective", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


effective = _load()


def test_the_synthetic_tenant_nests_at_most_five_groups_deep() -> None:
    tenant = effective.Tenant(0.01)

    assert 1 <= max(tenant.height.values()) <= effective.MAX_HEIGHT
    assert len(tenant.roles) == 30 and len(tenant.units) == 50


def test_the_benchmark_reports_the_full_and_the_incremental_figures() -> None:
    results = effective.measure(0.01)

    assert results["users"] == 1000 and results["groups"] == 200
    assert results["pairs"] >= results["edges"]  # every direct edge is a membership too
    assert 1 <= results["longest"] <= effective.MAX_HEIGHT + 2  # role, five groups
    assert results["one_user_deep_gained"] >= 1
    assert results["whale_into_role_principals"] > 0
    for key in ("full_s", "full_cpu_s", "peak_rss_mb", "one_user_deep_ms", "one_percent_s"):
        assert results[key] >= 0
