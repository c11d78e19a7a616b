"""Seeding: deterministic, skewed group sizes, and 100k users in bounded time and memory."""

from __future__ import annotations

import json
import subprocess
import sys

from entrasync_sim.seed import seed_tenants

_MEASURE = """
import json, resource, time
from entrasync_sim.seed import seed_tenants
started = time.perf_counter()
[tenant] = seed_tenants(1, 1, 100_000, 20_000, 50_000)
elapsed = time.perf_counter() - started
directory = tenant.directory
sizes = sorted((len(m) for m in directory.members.values()), reverse=True)
print(json.dumps({
    "seconds": elapsed,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "counts": {k: len(v) for k, v in directory.objects.items()},
    "largest": sizes[:4],
    "median": sizes[len(sizes) // 2],
}))
"""


def test_the_same_seed_gives_the_same_tenants() -> None:
    first, second = (seed_tenants(5, 2, 40, 6, 8) for _ in range(2))

    assert [t.describe() for t in first] == [t.describe() for t in second]
    for one, other in zip(first, second, strict=True):
        assert one.directory.members == other.directory.members
        assert {i: o.props for i, o in one.directory.objects["users"].items()} == {
            i: o.props for i, o in other.directory.objects["users"].items()
        }
    assert first[0].tenant_id != seed_tenants(6, 1, 1, 1, 1)[0].tenant_id


def test_seeded_objects_are_made_in_the_order_rounds_walk_them() -> None:
    # Made in id order, objects sit next to their neighbours in a round in memory.
    [tenant] = seed_tenants(3, 1, 300, 40, 60)

    for kind in ("users", "groups", "devices"):
        made = list(tenant.directory.objects[kind])
        assert made == sorted(made) == tenant.directory.sorted_ids[kind]


def test_a_100k_user_tenant_seeds_in_bounded_time_and_memory_with_a_few_huge_groups() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(done.stdout)

    # Issue 20's 100k-user tenant: 10k service principals, 5k apps, 30 roles, 50 units, 2k
    # contacts.
    assert report["counts"] == {
        "users": 100_000,
        "groups": 20_000,
        "devices": 50_000,
        "servicePrincipals": 10_000,
        "contacts": 2_000,
        "applications": 5_000,
        "directoryRoles": 30,
        "administrativeUnits": 50,
        "roleEligibilitySchedules": 40,
    }
    assert report["seconds"] < 30, report
    assert report["rss_mb"] < 1024, report
    assert all(size >= 10_000 for size in report["largest"][:3]), report
    assert report["largest"][3] < 10_000 and report["median"] < 50, report
