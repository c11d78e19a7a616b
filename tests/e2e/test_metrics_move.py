"""Every service's Prometheus metrics move in a real run: scraped from each process's health
port (`/metrics`, as Prometheus would) before and after a tenant's first sync through Graph
throttling, a credential profile expiring soon, an unreadable command the syncer parks, and a
console API call.

Real: the whole stack as processes (conftest), the simulator with a throttling fault. What a
normal run cannot show (lost runs, refused tokens, failures in a row, consumer `later`/
`terminated` outcomes) is covered by the unit and integration tests of each service's metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from e2e_helpers import eventually, recorded
from entrasync_devtools.stack import SERVICES, ServiceStack
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
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def stack_services() -> tuple[str, ...]:
    return SERVICES  # the console too: its metrics must move as well


Samples = list[tuple[str, dict[str, str], float]]

# (service, sample name, labels it must carry): each must grow over the run.
MOVES: list[tuple[str, str, dict[str, str]]] = [
    # the kit, in every service
    ("config", "entrasync_api_requests_total", {"service": "config", "code": "ok"}),
    ("config", "entrasync_api_request_duration_seconds_count", {"service": "config"}),
    ("config", "entrasync_consumer_messages_total", {"consumer": "sync-recorded"}),
    ("config", "entrasync_messages_published_total", {"flow": "tenantCreated"}),
    ("scheduler", "entrasync_messages_published_total", {"flow": "startSync"}),
    ("scheduler", "entrasync_consumer_messages_total", {"consumer": "sync_recorded"}),
    ("syncer", "entrasync_consumer_messages_total", {"consumer": "commands", "outcome": "handled"}),
    ("syncer", "entrasync_consumer_messages_total", {"consumer": "commands", "outcome": "parked"}),
    ("syncer", "entrasync_dead_letters_total", {"service": "syncer"}),
    ("syncer", "entrasync_messages_published_total", {"flow": "observed"}),
    ("syncer", "entrasync_messages_published_total", {"flow": "deadLetter"}),
    # syncer
    ("syncer", "entrasync_syncer_runs_total", {"status": "Succeeded", "mode": "full"}),
    ("syncer", "entrasync_syncer_run_duration_seconds_count", {}),
    ("syncer", "entrasync_syncer_type_results_total", {"status": "Succeeded"}),
    ("syncer", "entrasync_syncer_objects_total", {"object_type": "user", "change": "observed"}),
    ("syncer", "entrasync_syncer_graph_requests_total", {"endpoint": "users", "code": "200"}),
    ("syncer", "entrasync_syncer_graph_requests_total", {"code": "429"}),
    ("syncer", "entrasync_syncer_throttle_wait_seconds_total", {}),
    ("syncer", "entrasync_syncer_retry_after_seconds_count", {}),
    ("syncer", "entrasync_syncer_token_requests_total", {"result": "acquired"}),
    # history (on the kit too)
    (
        "history",
        "entrasync_consumer_messages_total",
        {"consumer": "pipeline-*", "outcome": "handled"},  # any partition's
    ),
    ("history", "entrasync_messages_published_total", {"flow": "syncRecorded"}),
    ("history", "entrasync_messages_published_total", {"flow": "directory_created"}),
    ("history", "entrasync_history_batch_apply_seconds_count", {"object_type": "user"}),
    ("history", "entrasync_history_events_published_total", {"change": "created"}),
    ("history", "entrasync_history_runs_recorded_total", {"status": "Succeeded"}),
    # scheduler
    ("scheduler", "entrasync_scheduler_slots_total", {"outcome": "queued"}),
    ("scheduler", "entrasync_scheduler_commands_total", {"mode": "full"}),
    ("scheduler", "entrasync_scheduler_tenants", {"enabled": "true"}),
    # config
    ("config", "entrasync_config_tenants", {"enabled": "true"}),
    ("config", "entrasync_config_profiles", {"kind": "secret"}),
    ("config", "entrasync_config_profiles_expiring", {}),
    # console
    ("console", "entrasync_console_requests_total", {"route": "/api/v1/tenants", "status": "200"}),
    ("console", "entrasync_console_request_duration_seconds_count", {"route": "/api/v1/tenants"}),
]

# (service, sample name): each must be served (gauges sampled at scrape).
SERVED: list[tuple[str, str]] = [
    ("syncer", "entrasync_consumer_pending_messages"),
    ("syncer", "entrasync_consumer_ack_pending_messages"),
    ("config", "entrasync_consumer_pending_messages"),
    ("history", "entrasync_consumer_pending_messages"),
    ("history", "entrasync_consumer_ack_pending_messages"),
    ("config", "entrasync_config_profiles_expired"),
    ("scheduler", "entrasync_scheduler_runs_in_flight"),
    ("scheduler", "entrasync_scheduler_missed_runs_total"),
]


async def scrape(client: httpx.AsyncClient, url: str) -> Samples:
    response = await client.get(url)
    response.raise_for_status()
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


async def scrape_all(stack: ServiceStack) -> dict[str, Samples]:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        return {service: await scrape(client, stack.metrics_url(service)) for service in SERVICES}


def matches(wanted: dict[str, str], labels: dict[str, str]) -> bool:
    """`labels` has every wanted label; a wanted value ending in `*` is a prefix."""
    return all(
        labels.get(key, "").startswith(value[:-1])
        if value.endswith("*")
        else labels.get(key) == value
        for key, value in wanted.items()
    )


def total(samples: Samples, name: str, labels: dict[str, str]) -> float:
    return sum(
        value
        for sample_name, sample_labels, value in samples
        if sample_name == name and matches(labels, sample_labels)
    )


def stuck(
    before: dict[str, Samples],
    after: dict[str, Samples],
    moves: Iterable[tuple[str, str, dict[str, str]]],
) -> list[str]:
    """The expected movements that did not happen."""
    return [
        f"{service}: {name}{labels}"
        for service, name, labels in moves
        if total(after[service], name, labels) <= total(before[service], name, labels)
    ]


async def expiring_profile(bus: NatsClient, stack: ServiceStack, app: dict[str, str]) -> str:
    soon = (datetime.now(UTC) + timedelta(days=10)).date()
    request = CredentialProfileCreate(
        name=f"metrics {app['domain']}",
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        secret_expires_at=soon,
    )
    profile = await call(
        bus, stack.names.api("config", "profile.create"), request, CredentialProfile
    )
    return profile.id


async def test_every_services_metrics_move_in_a_real_run(
    sim: SimulatorProcess, control: SimulatorControl, stack: ServiceStack, bus: NatsClient
) -> None:
    app = sim.tenants[0]
    before = await scrape_all(stack)
    control.inject_fault(
        "*/delta", status=429, count=2, retry_after="1", tenant_id=app["tenant_id"]
    )
    profile_id = await expiring_profile(bus, stack, app)
    # an hour apart: a second scheduled run while the metrics are awaited would count twice
    create = TenantCreate(
        tenant=app["domain"], cloud="simlab", profile_id=profile_id, interval_seconds=3600
    )
    tenant = await call(bus, stack.names.api("config", "tenant.create"), create, Tenant)

    async def first_run() -> dict | None:
        runs = await recorded(bus, stack, tenant.id)
        return next(iter(runs.values()), None)

    run = await eventually(first_run, "the tenant's first run recorded", within=180)
    assert run["status"] == "Succeeded"
    await bus.jetstream().publish(stack.names.sync_command("no-such-tenant"), b"not a command")
    assert stack.console is not None
    async with httpx.AsyncClient(base_url=stack.console_url, trust_env=False) as console:
        token = {"Authorization": f"Bearer {stack.console.api_token}"}
        assert (await console.get("/api/v1/tenants", headers=token)).status_code == 200

    async def moved() -> dict[str, Samples] | None:
        after = await scrape_all(stack)
        return None if stuck(before, after, MOVES) else after

    try:
        after = await eventually(moved, "every metric moved", within=60)
    except AssertionError:
        after = await scrape_all(stack)
        pytest.fail(f"metrics that did not move: {stuck(before, after, MOVES)}")
    missing = [f"{s}: {n}" for s, n in SERVED if not any(x[0] == n for x in after[s])]
    assert missing == []
    per_tenant = {"tenant_id": tenant.id}
    assert total(after["syncer"], "entrasync_syncer_runs_total", per_tenant) == 1
    last = "entrasync_scheduler_tenant_last_success_timestamp_seconds"
    assert total(after["scheduler"], last, per_tenant) > 0
    interval = "entrasync_scheduler_tenant_interval_seconds"
    assert total(after["scheduler"], interval, per_tenant) > 0
    days = total(
        after["config"], "entrasync_config_profile_expiry_days", {"profile_id": profile_id}
    )
    assert 9 <= days <= 10
