"""The syncer's metrics: Graph requests by endpoint kind and status, throttling waits and
Retry-After values from the Graph reader; objects, runs and type results from what the run
publisher sends (docs/metrics.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from entrasync_shared.messages import (
    CloudEndpoints,
    ObservationBatch,
    ObservedObject,
    Removal,
    SyncFinished,
    TypeResult,
)
from entrasync_syncer.adapters import metrics
from entrasync_syncer.adapters.graph import HttpxGraphConnector
from entrasync_syncer.domain import RetryPolicy
from prometheus_client import REGISTRY

CLOUD = CloudEndpoints(name="lab", authority_host="https://login.test", graph_url="https://g.test")
PAGE = {"value": [], "@odata.deltaLink": "https://g.test/next"}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("https://g.test/v1.0/users/delta?$select=id", "users"),
        ("https://g.test/v1.0/users/delta?$skiptoken=groups", "users"),
        ("https://g.test/v1.0/groups/delta?$deltatoken=x", "groups"),
        ("https://g.test/v1.0/devices/delta", "devices"),
        ("https://g.test/v1.0/groups/0b1c/members?$select=id&$top=999", "members"),
        ("https://g.test/v1.0/organization", "organization"),
        ("https://g.test/v1.0/servicePrincipals/delta?$select=id", "servicePrincipals"),
        ("https://g.test/v1.0/applications/delta()?$deltatoken=x", "applications"),
        ("https://g.test/v1.0/directoryRoles/delta?$select=id,members", "directoryRoles"),
        ("https://g.test/v1.0/directory/administrativeUnits/delta()", "administrativeUnits"),
        ("https://g.test/v1.0/contacts/delta?$skiptoken=users", "contacts"),
        ("https://g.test/v1.0/subscriptions/123", "other"),
    ],
)
def test_a_graph_url_is_labelled_by_its_endpoint_kind_never_its_ids(
    url: str, endpoint: str
) -> None:
    assert metrics.endpoint_of(url) == endpoint


async def test_graph_requests_throttling_and_retry_after_are_counted() -> None:
    url = "https://g.test/v1.0/groups/delta?$select=id"
    answers: list[httpx.Response | Exception] = [
        httpx.Response(
            429, json={"error": {"code": "TooManyRequests"}}, headers={"Retry-After": "3"}
        ),
        httpx.ConnectError("refused"),
        httpx.Response(200, json=PAGE),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        next_answer = answers.pop(0)
        if isinstance(next_answer, Exception):
            raise next_answer
        return next_answer

    async def sleep(seconds: float) -> None:
        pass

    async def token(fresh: bool) -> str:
        return "t"

    policy = RetryPolicy(max_attempts=4, backoff_base=1, backoff_cap=4, max_retry_after=60)
    connector = HttpxGraphConnector(policy, 5, sleep=sleep, transport=httpx.MockTransport(answer))
    requests = "entrasync_syncer_graph_requests_total"
    before = {
        code: sample(requests, endpoint="groups", code=code)
        for code in ("429", "200", "unreachable")
    }
    retry_after = sample("entrasync_syncer_retry_after_seconds_sum", endpoint="groups")
    waited = sample("entrasync_syncer_throttle_wait_seconds_total", endpoint="groups")

    async with connector.open(CLOUD) as graph:
        await graph.page(url, token)

    for code, count in before.items():
        assert sample(requests, endpoint="groups", code=code) == count + 1
    assert sample("entrasync_syncer_retry_after_seconds_sum", endpoint="groups") == retry_after + 3
    assert sample("entrasync_syncer_throttle_wait_seconds_total", endpoint="groups") >= waited + 3


def test_published_objects_count_by_type_and_change() -> None:
    batch = ObservationBatch(
        id="r1:group:0",
        run_id="r1",
        tenant_id="t1",
        object_type="group",
        seq=0,
        mode="delta",
        objects=(ObservedObject(id="g1"), ObservedObject(id="g2")),
        removals=(Removal(id="g3", reason="changed"), Removal(id="g4", reason="deleted")),
    )
    objects = "entrasync_syncer_objects_total"
    before = {
        c: sample(objects, object_type="group", change=c)
        for c in ("observed", "soft_deleted", "deleted")
    }

    metrics.batch_published(batch)

    after = {c: sample(objects, object_type="group", change=c) for c in before}
    assert {c: after[c] - before[c] for c in before} == {
        "observed": 2,
        "soft_deleted": 1,
        "deleted": 1,
    }


def test_a_finished_run_counts_by_tenant_mode_status_and_its_types_results() -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    resynced = TypeResult(object_type="user", mode="full", reason="resync", status="Succeeded")
    failed = TypeResult(object_type="device", mode="delta", reason="schedule", status="Failed")
    event = SyncFinished(
        id="r2:finished",
        run_id="r2",
        tenant_id="tenant-metrics",
        mode="delta",
        reason="schedule",
        started_at=started,
        finished_at=started + timedelta(seconds=12),
        results=(resynced, failed),
    )
    labels = {"tenant_id": "tenant-metrics", "mode": "delta", "status": "Failed"}
    types = "entrasync_syncer_type_results_total"
    resyncs = sample(types, object_type="user", mode="full", reason="resync", status="Succeeded")

    metrics.run_finished(event)

    assert sample("entrasync_syncer_runs_total", **labels) == 1
    after = sample(types, object_type="user", mode="full", reason="resync", status="Succeeded")
    assert after == resyncs + 1
    assert sample("entrasync_syncer_run_duration_seconds_sum", mode="delta", status="Failed") >= 12
