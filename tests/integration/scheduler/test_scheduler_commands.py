from __future__ import annotations

import pytest
from entrasync_config.main import build_app as build_config_app
from entrasync_config.settings import ConfigSettings
from entrasync_scheduler.main import build_app as build_scheduler_app
from entrasync_scheduler.settings import SchedulerSettings
from entrasync_shared.messages import Health, Tenant, TenantRef
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from scheduler_helpers import (
    INTERVAL,
    commands,
    create_tenant,
    finish_run,
    start_sync,
)
from support.fakes import FakeClock
from support.polling import eventually


def slot(clock: FakeClock) -> int:
    return int(clock.time() // INTERVAL)


@pytest.mark.usefixtures("scheduler")
async def test_a_new_tenant_runs_full_at_once_then_delta_in_the_slot_after_its_full_success(
    nc: NatsClient, names: Names, clock: FakeClock
) -> None:
    tenant = await create_tenant(nc, names, "contoso.onmicrosoft.com")

    [first_msg] = await eventually(
        lambda: commands(nc, names, tenant.id), accept=lambda c: len(c) == 1
    )
    first = start_sync(first_msg)
    assert (first.mode, first.reason, first.tenant_id) == ("full", "first", tenant.id)
    assert (first_msg.headers or {})["Nats-Msg-Id"] == f"{tenant.id}:{slot(clock)}"

    await finish_run(nc, names, first_msg, "Succeeded")
    ref = TenantRef(tenant_id=tenant.id)
    await eventually(
        lambda: call(nc, names.api("config", "tenant.get"), ref, Tenant),
        accept=lambda t: not t.full_scan_next,
    )
    clock.advance(INTERVAL)

    queued = await eventually(lambda: commands(nc, names, tenant.id), accept=lambda c: len(c) == 2)
    second = start_sync(queued[1])
    assert (second.mode, second.reason) == ("delta", "schedule")
    assert second.run_id != first.run_id
    assert (queued[1].headers or {})["Nats-Msg-Id"] == f"{tenant.id}:{slot(clock)}"


@pytest.mark.usefixtures("scheduler")
async def test_a_failed_full_run_is_retried_in_full_and_nothing_overlaps_a_running_one(
    nc: NatsClient, names: Names, clock: FakeClock
) -> None:
    tenant = await create_tenant(nc, names, "fabrikam.onmicrosoft.com")
    [msg] = await eventually(lambda: commands(nc, names, tenant.id), accept=lambda c: len(c) == 1)

    clock.advance(3 * INTERVAL)  # the run is still going: no second command
    disabled = await create_tenant(nc, names, "off.example.com", enabled=False)
    canary = await create_tenant(nc, names, "canary.example.com")
    await eventually(lambda: commands(nc, names, canary.id), accept=lambda c: len(c) == 1)
    assert len(await commands(nc, names, tenant.id)) == 1
    assert await commands(nc, names, disabled.id) == []

    await finish_run(nc, names, msg, "Failed")
    queued = await eventually(lambda: commands(nc, names, tenant.id), accept=lambda c: len(c) == 2)
    retry = start_sync(queued[1])
    assert (retry.mode, retry.reason) == ("full", "flag")


async def test_the_scheduler_waits_for_config_and_schedules_tenants_it_lists(
    nc: NatsClient,
    names: Names,
    clock: FakeClock,
    config_settings: ConfigSettings,
    scheduler_settings: SchedulerSettings,
) -> None:
    async with build_config_app(config_settings):
        tenant = await create_tenant(nc, names, "contoso.onmicrosoft.com")

    async with build_scheduler_app(scheduler_settings, clock=clock):
        health: Health = await call(nc, names.api("scheduler", "health"), None, Health)
        assert not health.ok
        async with build_config_app(config_settings):
            [msg] = await eventually(
                lambda: commands(nc, names, tenant.id), accept=lambda c: len(c) == 1
            )

    assert (start_sync(msg).mode, start_sync(msg).reason) == ("full", "first")
