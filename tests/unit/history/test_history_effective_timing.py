"""history times its first effective-membership computation: the log line says how long it took
(wall and the process's CPU) and how many edges it read, and the histogram
`entrasync_history_effective_computation_seconds` (docs/metrics.md) observes the same wall time
(the bench reads the line: bench/effective_figures.py)."""

from __future__ import annotations

import logging
import re

import pytest
from entrasync_history.adapters import metrics
from entrasync_history.domain.model import StoredObject
from entrasync_history.usecases.effective import Cause, effective_change, first_computation
from entrasync_shared.subjects import Names, ObjectType
from history_fakes import T0, TENANT, FakeHistoryStore
from prometheus_client import REGISTRY

# The composition root hands history's histogram to the use cases (main.py: Context).
CAUSE = Cause(Names("het"), TENANT, "r1", "finish", T0, computed=metrics.effective_computed)
COMPUTATION = "entrasync_history_effective_computation_seconds"
LOGGED = re.compile(
    r"tenant (?P<tenant>\S+): effective membership computed in (?P<wall>[0-9.]+) s "
    r"\((?P<cpu>[0-9.]+) s CPU; (?P<edges>\d+) edges, (?P<nested>\d+) nested groups, "
    r"(?P<holders>\d+) role holders\)"
)


def container(object_id: str, members: set[str], live: bool = True) -> StoredObject:
    kind: ObjectType = "directoryRole" if object_id.startswith("r") else "group"
    return StoredObject(
        tenant_id=TENANT,
        object_type=kind,
        object_id=object_id,
        first_seen=T0,
        last_seen_run="r1",
        last_seen_at=T0,
        attributes={"roleTemplateId": f"t-{object_id}"} if kind == "directoryRole" else {},
        members=frozenset(members),
        member_types={
            m: "group" if m.startswith("g") else "device" for m in members if m[0] in "gd"
        },
        deletion=None if live else "soft",
    )


def sample(suffix: str) -> float:
    return REGISTRY.get_sample_value(COMPUTATION + suffix) or 0.0


def tenant_with_nesting() -> FakeHistoryStore:
    store = FakeHistoryStore()
    for found in (
        container("g0", {"g1", "u0"}),
        container("g1", {"u1", "d0"}),
        container("r0", {"g1"}),
        container("g2", {"u0"}, live=False),  # a deleted group holds no edges
    ):
        store.objects[(found.object_type, found.object_id)] = found
    return store


async def test_the_first_computation_logs_its_duration_cpu_and_edges(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="entrasync_history.usecases.effective"):
        work = await first_computation(tenant_with_nesting().effective, CAUSE, [])
    [line] = [r.getMessage() for r in caplog.records if "effective membership" in r.getMessage()]
    logged = LOGGED.fullmatch(line)
    assert logged is not None, line
    assert logged["tenant"] == TENANT
    assert float(logged["wall"]) >= 0 and float(logged["cpu"]) >= 0
    assert work.closure is not None
    assert int(logged["edges"]) == 5
    assert int(logged["nested"]) == len(work.closure.ancestors) == 1
    assert int(logged["holders"]) == len(work.events) == 3  # g1 and, through it, u1 and d0


async def test_the_first_computation_is_observed_by_the_histogram(
    caplog: pytest.LogCaptureFixture,
) -> None:
    count, total = sample("_count"), sample("_sum")
    with caplog.at_level(logging.INFO, logger="entrasync_history.usecases.effective"):
        await first_computation(tenant_with_nesting().effective, CAUSE, [])
    [logged] = [m for r in caplog.records if (m := LOGGED.fullmatch(r.getMessage()))]
    assert sample("_count") == count + 1
    # The log rounds to milliseconds; the histogram holds the same wall time.
    assert sample("_sum") - total == pytest.approx(float(logged["wall"]), abs=0.001)


async def test_a_later_commit_is_not_a_first_computation() -> None:
    store = tenant_with_nesting()
    work = await first_computation(store.effective, CAUSE, [])
    assert work.closure is not None
    store.effective.write(TENANT, work.closure)
    count = sample("_count")
    changed = container("g1", {"u1"})
    before = [store.objects[("group", "g1")]]
    await effective_change(store.effective, CAUSE, before, [changed], finish=True)
    assert sample("_count") == count
