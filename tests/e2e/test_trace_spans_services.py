"""One trace from "sync now" in the console to `sync.recorded`, across the services' processes.

Real: the whole stack as processes with tracing on through the environment only (each service
appends its spans to one file, `ENTRASYNC_TRACES_FILE`; no OTLP collector), the simulator with a
throttling fault. The W3C trace context crosses every NATS hop: the console's API request to the
scheduler, the StartSync command, the syncer's pipeline messages, history's events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_helpers import CLOUD, eventually, recorded
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack, simulated_stack_settings
from entrasync_shared.kit.tracing import TRACES_FILE
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    Tenant,
    TenantCreate,
)
from entrasync_shared.natsutil import call
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient

pytestmark = pytest.mark.timeout(240)

Span = dict[str, Any]


@pytest.fixture(scope="module")
def stack(
    infra: LocalInfra, sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    workdir: Path = tmp_path_factory.mktemp("traced")
    tracing = {TRACES_FILE: str(workdir / "spans.jsonl"), "OTEL_TRACES_EXPORTER": "none"}
    env, prefix = simulated_stack_settings(sim, workdir, "e2e", cloud=CLOUD, extra=tracing)
    with ServiceStack(infra.nats_url, infra.mongodb_uri, workdir, env, prefix=prefix) as running:
        yield running


def spans(stack: ServiceStack) -> list[Span]:
    path = stack.workdir / "spans.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def service(span: Span) -> str:
    return str(span["resource"]["attributes"]["service.name"]).removeprefix("entrasync-")


def trace_of(all_spans: list[Span], trace_id: str) -> list[Span]:
    return [s for s in all_spans if s["context"]["trace_id"] == trace_id]


def orphans(trace: list[Span]) -> list[str]:
    """Spans of `trace` whose parent is not in it (the root has none)."""
    ids = {s["context"]["span_id"] for s in trace}
    return [
        f"{service(s)}: {s['name']}" for s in trace if s["parent_id"] and s["parent_id"] not in ids
    ]


async def new_tenant(bus: NatsClient, stack: ServiceStack, app: dict[str, str]) -> Tenant:
    names = stack.names
    request = CredentialProfileCreate(
        name=f"traces {app['domain']}",
        client_id=app["client_id"],
        client_secret=app["client_secret"],
    )
    profile = await call(bus, names.api("config", "profile.create"), request, CredentialProfile)
    create = TenantCreate(tenant=app["domain"], cloud=CLOUD, profile_id=profile.id)
    return await call(bus, names.api("config", "tenant.create"), create, Tenant)


async def sync_now_in_console(bus: NatsClient, stack: ServiceStack, tenant_id: str) -> str:
    """Press "sync now" (REST) until a run is queued at once, not after the one in flight;
    wait until it is recorded and return its id."""
    assert stack.console is not None
    token = {"Authorization": f"Bearer {stack.console.api_token}"}
    async with httpx.AsyncClient(base_url=stack.console_url, trust_env=False) as console:
        while True:
            answer = await console.post(f"/api/v1/tenants/{tenant_id}/sync", headers=token)
            assert answer.status_code == 202, answer.text
            accepted = answer.json()
            run_id = accepted["run_id"] if accepted["status"] == "queued" else accepted["after_run"]

            async def probe(run_id: str = run_id) -> dict | None:
                return (await recorded(bus, stack, tenant_id)).get(run_id)

            done = await eventually(probe, f"run {run_id} recorded")
            if accepted["status"] == "queued":
                assert done["status"] == "Succeeded", done
                return str(run_id)


async def test_sync_now_is_one_trace_from_the_console_to_sync_recorded(
    sim: SimulatorProcess, control: SimulatorControl, stack: ServiceStack, bus: NatsClient
) -> None:
    app = sim.tenants[0]
    tenant = await new_tenant(bus, stack, app)

    async def first_run() -> dict | None:
        return next(iter((await recorded(bus, stack, tenant.id)).values()), None)

    await eventually(first_run, "the tenant's first run recorded", within=180)
    control.create(app["tenant_id"], "users", {"displayName": "Traced Arrival"})
    control.inject_fault(
        "*/delta", status=429, count=1, retry_after="1", tenant_id=app["tenant_id"]
    )
    run_id = await sync_now_in_console(bus, stack, tenant.id)
    route = "POST /api/v1/tenants/{tenant_id}/sync"
    roots = [s for s in spans(stack) if s["name"] == route and service(s) == "console"]
    root = roots[-1]  # the request that queued the run
    recorded_subject = stack.names.sync_recorded(tenant.id)
    events = stack.names.events_stream

    async def whole_trace() -> list[Span] | None:
        trace = trace_of(spans(stack), root["context"]["trace_id"])
        read = [s for s in trace if s["name"] == f"{recorded_subject} process"]
        return trace if read and not orphans(trace) else None

    trace = await eventually(whole_trace, "sync.recorded read in the console's trace")
    assert {"console", "scheduler", "syncer", "history", "config"} <= {service(s) for s in trace}
    by_id = {s["context"]["span_id"]: s for s in trace}
    for read in (s for s in trace if s["name"] == f"{recorded_subject} process"):
        published = by_id[read["parent_id"]]
        assert (service(published), published["name"]) == ("history", f"{events} publish")
    # As the stream stored it: with the tenant's partition.
    applied = f"{stack.names.stored(stack.names.observed(tenant.id, 'user'))} process"
    batches = [s["context"]["span_id"] for s in trace if s["name"] == applied]
    announced = [s for s in trace if s["parent_id"] in batches]
    assert [(service(s), s["name"]) for s in announced] == [("history", f"{events} publish")]
    runs = [s for s in trace if s["name"] == "sync run"]
    assert [s["attributes"]["entrasync.run_id"] for s in runs] == [run_id]
    assert runs[0]["attributes"]["entrasync.run.status"] == "Succeeded"
    pages = [s for s in trace if s["name"] == "graph page"]
    assert pages and all(s["attributes"]["http.response.status_code"] == 200 for s in pages)
    throttled = [s for s in pages if s["attributes"]["graph.throttled"] > 0]
    assert throttled and throttled[0]["attributes"]["graph.retry_after_seconds"] == 1
    assert orphans(trace) == []
