"""Graph's token-bucket throttling, as the simulator models it, met by the syncer: waits of
`Retry-After` in full, one request at a time after a pause, the waiting reported per type, and
a `Retry-After` beyond the configured maximum failing only that type, with the reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from entrasync_shared.messages import Credential
from entrasync_shared.subjects import Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.main import build_app
from entrasync_syncer.settings import Settings
from nats.aio.client import Client as NatsClient
from syncer_helpers import (
    SIM_KINDS,
    TYPES,
    PipelineWatcher,
    Run,
    merged_objects,
    send_command,
    simulator_credential,
)


def assert_read_in_full(run: Run, truth: dict[str, list[dict[str, Any]]]) -> None:
    """Every type succeeded and published exactly the simulator's objects."""
    for object_type in TYPES:
        expected = {obj["id"] for obj in truth[SIM_KINDS[object_type]]}
        assert merged_objects(run.of(object_type)).keys() == expected, object_type
        assert run.result(object_type).status == "Succeeded", run.result(object_type)


@pytest.fixture(autouse=True)
def graphs_own_budgets_again(control: SimulatorControl) -> Iterator[None]:
    yield
    control.clear_faults()
    control.set_throttling()


async def test_a_small_bucket_is_waited_out_and_the_waits_are_reported(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tt1"] = simulator_credential(sim, "tt1")
    truth = control.state(sim_tenant)
    # Four units refilled over two seconds: the run's ~6 pages (three types at once) overdraw it.
    control.set_throttling(budget=4, window=2)

    command = await send_command(nc, names, "tt1", "full")
    run = await watcher.run(command.run_id, within=60)

    assert_read_in_full(run, truth)
    results = [run.result(t) for t in TYPES]
    assert sum(r.throttled for r in results) >= 1
    assert sum(r.throttled_seconds for r in results) > 0
    assert all(r.throttled_seconds > 0 for r in results if r.throttled)


async def test_a_retry_after_beyond_the_maximum_fails_that_type_with_the_reason(
    settings: Settings,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tt2"] = simulator_credential(sim, "tt2")
    # Graph under load: a 429 below the budget, with a wait longer than the old 30 s cap.
    control.inject_fault("users/delta", status=429, retry_after="45", tenant_id=sim_tenant)
    app = build_app(settings.model_copy(update={"max_retry_after": 2.0}))

    began = time.monotonic()
    async with app:
        command = await send_command(nc, names, "tt2", "full")
        run = await watcher.run(command.run_id, within=20)
    took = time.monotonic() - began

    users = run.result("user")
    assert (users.status, users.throttled) == ("Failed", 1)
    assert "asked to wait 45 s, longer than the 2 s" in (users.error or "")
    assert run.result("group").status == run.result("device").status == "Succeeded"
    assert took < 15  # failed at once, not after waiting


async def test_a_retry_after_within_the_maximum_is_waited_out_in_full(
    settings: Settings,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tt3"] = simulator_credential(sim, "tt3")
    truth = control.state(sim_tenant)
    control.inject_fault(
        "devices/delta", status=429, retry_after="1.5", count=1, tenant_id=sim_tenant
    )
    app = build_app(settings.model_copy(update={"max_retry_after": 2.0}))

    async with app:
        command = await send_command(nc, names, "tt3", "full")
        run = await watcher.run(command.run_id, within=30)

    assert_read_in_full(run, truth)
    devices = run.result("device")
    assert devices.throttled == 1
    assert devices.throttled_seconds == pytest.approx(1.5)
