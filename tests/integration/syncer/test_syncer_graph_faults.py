"""Graph's worst days, injected by the simulator: throttling storms, resets, expired links,
unreachable servers, duplicates and replays. Each test removes the faults it added."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from entrasync_shared.messages import Credential, TenantFilters
from entrasync_shared.subjects import Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.main import build_app
from entrasync_syncer.settings import Settings
from nats.aio.client import Client as NatsClient
from syncer_helpers import (
    TYPES,
    PipelineWatcher,
    assert_matches_truth,
    merged_objects,
    removals_of,
    send_command,
    simulator_credential,
    stored_link,
)


@pytest.fixture(autouse=True)
def clean_simulator(control: SimulatorControl, sim_tenant: str) -> Iterator[None]:
    yield
    control.clear_faults()
    control.set_delta_quirks(sim_tenant)


async def test_a_429_storm_with_fractional_retry_after_is_waited_out(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["ts1"] = simulator_credential(sim, "ts1")
    truth = control.state(sim_tenant)
    control.inject_fault("*/delta", status=429, count=4, retry_after="1.128", tenant_id=sim_tenant)

    began = time.monotonic()
    command = await send_command(nc, names, "ts1", "full")
    run = await watcher.run(command.run_id, within=60)
    took = time.monotonic() - began

    assert_matches_truth(run, truth)
    assert [f["hits"] for f in control.faults()] == [4]
    assert sum(run.result(t).throttled for t in TYPES) == 4
    # Every request of the run waits for the fractional Retry-After: never less than one wait.
    assert took >= 1.128


async def test_a_storm_that_outlasts_the_retry_budget_fails_only_that_type(
    settings: Settings,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["ts2"] = simulator_credential(sim, "ts2")
    control.inject_fault("users/delta", status=429, retry_after="0.2", tenant_id=sim_tenant)
    app = build_app(settings.model_copy(update={"max_attempts": 3}))

    async with app:
        command = await send_command(nc, names, "ts2", "full")
        run = await watcher.run(command.run_id, within=30)

    users = run.result("user")
    assert users.status == "Failed" and users.throttled == 3
    assert "429" in (users.error or "") and "gave up after 3 attempts" in (users.error or "")
    assert run.result("group").status == run.result("device").status == "Succeeded"


async def test_unavailable_and_unreachable_graph_is_retried_until_it_answers(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["ts3"] = simulator_credential(sim, "ts3")
    truth = control.state(sim_tenant)
    control.inject_fault("groups/delta", status=503, count=2, tenant_id=sim_tenant)
    control.inject_fault("devices/delta", status=504, count=1, retry_after="0.5")
    control.inject_fault("users/delta", reset=True, count=2, after=1)

    command = await send_command(nc, names, "ts3", "full")
    run = await watcher.run(command.run_id, within=60)

    assert_matches_truth(run, truth)
    assert [f["hits"] for f in control.faults()] == [2, 1, 2]
    assert run.result("user").requests == run.result("user").pages + 2


async def test_a_tenant_reset_410_discards_every_link_and_reads_in_full(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["ts4"] = simulator_credential(sim, "ts4")
    first = await send_command(nc, names, "ts4", "full")
    await watcher.run(first.run_id)
    old_links = {t: await stored_link(nc, names, "ts4", t) for t in TYPES}
    control.reset_tenant(sim_tenant)
    truth = control.state(sim_tenant)

    command = await send_command(nc, names, "ts4", "delta", reason="schedule")
    run = await watcher.run(command.run_id, within=30)

    assert_matches_truth(run, truth)
    for object_type in TYPES:
        result = run.result(object_type)
        assert (result.mode, result.reason) == ("full", "resync")
        assert await stored_link(nc, names, "ts4", object_type) != old_links[object_type]
    assert {b.mode for b in run.batches} == {"full"}


async def test_an_expired_delta_token_is_replaced_by_a_full_round(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["ts5"] = simulator_credential(sim, "ts5")
    first = await send_command(nc, names, "ts5", "full", object_types=("user",))
    await watcher.run(first.run_id)
    # 8 days later in Graph's time: the link is gone, and so is the cached access token.
    control.advance_clock(8 * 24 * 3600)
    truth = control.state(sim_tenant)

    command = await send_command(nc, names, "ts5", "delta", object_types=("user",))
    run = await watcher.run(command.run_id, within=30)

    assert_matches_truth(run, truth, ("user",))
    result = run.result("user")
    assert (result.mode, result.reason) == ("full", "resync")


async def test_duplicates_replays_and_empty_pages_still_give_each_object_once(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["ts6"] = simulator_credential(sim, "ts6")
    control.set_delta_quirks(sim_tenant, duplicates=0.5, replays=0.5, empty_pages=0.3, seed=11)
    truth = control.state(sim_tenant)

    full = await send_command(nc, names, "ts6", "full")
    run = await watcher.run(full.run_id, within=30)

    assert_matches_truth(run, truth)
    for object_type in ("user", "device"):
        published = Counter(o.id for b in run.of(object_type) for o in b.objects)
        assert set(published.values()) == {1}, object_type

    user_ids = sorted(u["id"] for u in truth["users"])
    changed, removed = user_ids[0], user_ids[1]
    control.update(sim_tenant, "users", changed, {"jobTitle": "Replayed Tester"})
    control.delete(sim_tenant, "users", removed)
    delta = await send_command(nc, names, "ts6", "delta")
    later = await watcher.run(delta.run_id, within=30)

    users = merged_objects(later.of("user"))
    now = {u["id"]: u for u in control.state(sim_tenant)["users"]}
    assert users[changed]["attributes"]["jobTitle"] == "Replayed Tester"
    assert removals_of(later.of("user")) == {removed: "changed"}
    for object_id, seen in users.items():  # replays repeat old changes, never wrong ones
        assert all(now[object_id].get(k) == v for k, v in seen["attributes"].items())
    assert Counter(o.id for b in later.of("user") for o in b.objects)[changed] == 1


async def test_a_certificate_credential_reads_the_tenant(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    app = sim.tenants[0]
    secret = simulator_credential(sim, "ts7")
    credentials["ts7"] = Credential.model_validate(
        {
            **secret.model_dump(exclude={"client_secret"}),
            "kind": "certificate",
            "private_key_pem": app["private_key_pem"],
            "certificate_pem": app["certificate_pem"],
            "certificate_thumbprint": app["thumbprint"],
        }
    )

    command = await send_command(nc, names, "ts7", "full", object_types=("device",))
    run = await watcher.run(command.run_id)

    assert_matches_truth(run, control.state(sim_tenant), ("device",))


async def test_guests_and_disabled_accounts_are_filtered_and_counted(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    sim_tenant: str,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    filters = TenantFilters(exclude_guests=True, exclude_disabled=True)
    credentials["ts8"] = simulator_credential(sim, "ts8").model_copy(update={"filters": filters})
    users = control.state(sim_tenant)["users"]
    kept = {u["id"] for u in users if u["userType"] != "Guest" and u["accountEnabled"] is not False}
    assert 0 < len(kept) < len(users)

    command = await send_command(nc, names, "ts8", "full", object_types=("user",))
    run = await watcher.run(command.run_id)

    assert set(merged_objects(run.of("user"))) == kept
    result = run.result("user")
    assert (result.total, result.filtered) == (len(kept), len(users) - len(kept))

    leaver = sorted(kept)[0]
    control.update(sim_tenant, "users", leaver, {"accountEnabled": False})
    delta = await send_command(nc, names, "ts8", "delta", object_types=("user",))
    later = await watcher.run(delta.run_id)

    assert removals_of(later.of("user")) == {leaver: "changed"}
    assert later.result("user").filtered == 1
    control.update(sim_tenant, "users", leaver, {"accountEnabled": True})
