"""The scheduler's entry points follow the catalog: its API answers exactly `SchedulerApi`, its
ordered consumers read flows the catalog lists it as a reader of; `sync_now` answers the
catalog's error codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from entrasync_scheduler.domain import Planned
from entrasync_scheduler.entrypoints.api import api, sync_now
from entrasync_scheduler.entrypoints.events import CONSUMERS
from entrasync_scheduler.ports import TenantSource
from entrasync_scheduler.settings import SchedulerSettings
from entrasync_scheduler.usecases.scheduler import Scheduler
from entrasync_shared import catalog
from entrasync_shared.catalog import SchedulerApi
from entrasync_shared.kit.api import answer
from entrasync_shared.messages import ApiError, Reply, SyncNow, Tenant
from entrasync_shared.natsutil import ApiCallError
from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker
from support.fakes import FakeClock


def test_the_scheduler_answers_exactly_its_catalog_endpoints() -> None:
    api.check()
    assert set(api.handlers) == {e.verb for e in catalog.endpoints("scheduler")}


def test_the_scheduler_subscribes_to_its_endpoints_and_catalog_flows() -> None:
    broker, names = NatsBroker(), Names("t1")

    for consumer in CONSUMERS:
        consumer.attach(broker, names, lambda: None)
    api.attach(broker, names, lambda: None)

    subjects = {s.subject.broker_address for s in broker.subscribers}
    assert {e.subject(names) for e in catalog.endpoints("scheduler")} <= subjects
    assert names.sync_recorded_all in subjects
    assert "t1.entrasync.config.tenant.>" in subjects  # the three tenant events


class ConfigDown:
    async def list_tenants(self) -> list[Tenant]:
        raise ApiCallError(ApiError(code="timeout", message="config did not answer"))


class OneDisabledTenant:
    async def list_tenants(self) -> list[Tenant]:
        at = datetime(2027, 1, 1, tzinfo=UTC)
        fields = {"name": "off", "tenant": "off.example.com", "cloud": "global"}
        return [
            Tenant.model_validate(
                {
                    **fields,
                    "id": "off",
                    "profile_id": "p",
                    "enabled": False,
                    "full_scan_next": True,
                    "object_types": ("user",),
                    "interval_seconds": 60,
                    "created_at": at,
                    "updated_at": at,
                }
            )
        ]


class NoQueue:
    async def pending(self, tenant_id: str) -> int:
        return 0

    async def start_sync(self, planned: Planned) -> None:
        raise AssertionError("nothing may be queued")


async def sync_now_reply(source: TenantSource, tenant_id: str) -> Reply[Any]:
    scheduler = Scheduler(source, NoQueue(), FakeClock(1_800_000_000.0), SchedulerSettings())
    body = SyncNow(tenant_id=tenant_id).model_dump_json().encode()
    return await answer(
        body,
        SchedulerApi.sync_now,
        lambda request: sync_now(request, scheduler),
        outages=api.outages,
    )


async def test_sync_now_refusals_and_outages_answer_catalog_codes() -> None:
    unknown = (await sync_now_reply(OneDisabledTenant(), "nope")).error
    disabled = (await sync_now_reply(OneDisabledTenant(), "off")).error
    down = (await sync_now_reply(ConfigDown(), "off")).error

    assert unknown is not None and (unknown.code, unknown.field) == ("not_found", "tenant_id")
    assert disabled is not None and (disabled.code, disabled.field) == ("conflict", "tenant_id")
    assert down is not None and down.code == "unavailable"
