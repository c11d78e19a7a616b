"""Several scheduler replicas side by side, as Kubernetes runs them: each run exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from entrasync_scheduler.main import build_app as build_scheduler_app
from entrasync_scheduler.settings import SchedulerSettings
from entrasync_shared.messages import SyncNow, SyncNowAccepted
from entrasync_shared.natsutil import ApiCallError, call
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from scheduler_helpers import (
    INTERVAL,
    commands,
    consume,
    create_tenant,
    finish_run,
    start_sync,
)
from support.fakes import FakeClock
from support.polling import eventually

pytestmark = pytest.mark.usefixtures("config_service")


def decisions(caplog: pytest.LogCaptureFixture) -> Callable[[], object]:
    """How many times a replica decided about a due run: it emitted it, or saw it queued."""

    async def count() -> int:
        return sum(
            "emitted" in r.getMessage() or "queued or running" in r.getMessage()
            for r in caplog.records
        )

    return count


async def published(nc: NatsClient, names: Names) -> int:
    """Commands ever stored on the queue (consumed ones included)."""
    return int((await nc.jetstream().stream_info(names.commands_stream)).state.last_seq)


async def test_two_schedulers_and_a_restarted_third_queue_each_run_once(
    nc: NatsClient,
    names: Names,
    clock: FakeClock,
    scheduler_settings: SchedulerSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="entrasync.scheduler")
    decided = decisions(caplog)
    async with (
        build_scheduler_app(scheduler_settings, clock=clock),
        build_scheduler_app(scheduler_settings, clock=clock),
    ):
        tenant = await create_tenant(nc, names, "contoso.onmicrosoft.com")
        await eventually(decided, accept=lambda n: n >= 2)
        [first] = await commands(nc, names, tenant.id)
        assert await published(nc, names) == 1

        await finish_run(nc, names, first, "Succeeded")
        clock.advance(INTERVAL)
        await eventually(decided, accept=lambda n: n >= 4)
        queued = await commands(nc, names, tenant.id)
        assert [start_sync(m).mode for m in queued] == ["full", "delta"]
        assert await published(nc, names) == 2

        # A third replica starts while the second run is still going: it does not add one.
        before = await decided()
        async with build_scheduler_app(scheduler_settings, clock=clock):
            await eventually(decided, accept=lambda n: n >= before + 1)  # type: ignore[operator]
            await consume(nc, names, queued[1])  # the run ends, but is not recorded yet
            clock.advance(scheduler_settings.busy_recheck_seconds)  # still the same slot
            await eventually(decided, accept=lambda n: n >= before + 2)  # type: ignore[operator]
            assert await published(nc, names) == 2


async def test_sync_now_through_either_replica_queues_exactly_one_manual_run(
    nc: NatsClient,
    names: Names,
    clock: FakeClock,
    scheduler_settings: SchedulerSettings,
) -> None:
    async with (
        build_scheduler_app(scheduler_settings, clock=clock),
        build_scheduler_app(scheduler_settings, clock=clock),
    ):
        tenant = await create_tenant(nc, names, "contoso.onmicrosoft.com")
        [first] = await eventually(
            lambda: commands(nc, names, tenant.id), accept=lambda c: len(c) == 1
        )
        subject = names.api("scheduler", "sync_now")

        during = await call(nc, subject, SyncNow(tenant_id=tenant.id), SyncNowAccepted)
        assert during.status == "deferred"
        await finish_run(nc, names, first, "Succeeded")

        queued = await eventually(
            lambda: commands(nc, names, tenant.id), accept=lambda c: len(c) == 2
        )
        manual = start_sync(queued[1])
        assert manual.reason == "manual" and manual.mode == "delta"
        await finish_run(nc, names, queued[1], "Succeeded")

        # Queued at once, or (when this replica has not yet heard that run end) right after.
        now = await call(nc, subject, SyncNow(tenant_id=tenant.id), SyncNowAccepted)
        queued = await eventually(
            lambda: commands(nc, names, tenant.id), accept=lambda c: len(c) == 3
        )
        assert start_sync(queued[2]).reason == "manual"
        if now.status == "queued":
            assert start_sync(queued[2]).run_id == now.run_id
        assert await published(nc, names) == 3

        with pytest.raises(ApiCallError, match="not_found"):
            await call(nc, subject, SyncNow(tenant_id="nope"), SyncNowAccepted)
