"""The service kit: one `answer()`, routers that follow the catalog, typed consumers' parsing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from entrasync_shared import catalog
from entrasync_shared.catalog import ConfigApi, HistoryApi, SchedulerApi
from entrasync_shared.kit.api import ApiFailure, ApiRouter, answer
from entrasync_shared.kit.consumers import Malformed, _filter, about, parse
from entrasync_shared.messages import SyncNow, SyncNowAccepted, SyncStarted, TenantRef
from entrasync_shared.subjects import Names
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def accepted(request: SyncNow) -> SyncNowAccepted:
    return SyncNowAccepted(tenant_id=request.tenant_id, status="queued", run_id="r1")


def test_answer_parses_strictly_and_runs_the_handler() -> None:
    good = run(answer(b'{"tenant_id": "t1"}', SchedulerApi.sync_now, accepted))
    assert good.ok and good.result.tenant_id == "t1"
    bad = run(answer(b'{"tenant_id": 1}', SchedulerApi.sync_now, accepted))
    assert not bad.ok and bad.error.code == "validation" and bad.error.field == "tenant_id"
    extra = run(answer(b'{"tenant_id": "t1", "x": 1}', SchedulerApi.sync_now, accepted))
    assert extra.error.code == "validation" and extra.error.field == "x"
    huge = run(answer(b"{" + b" " * 70_000 + b"}", SchedulerApi.sync_now, accepted))
    assert huge.error.code == "validation" and "too large" in huge.error.message


def test_answer_maps_refusals_outages_and_bugs_to_catalog_codes() -> None:
    async def refuse(request: TenantRef) -> Any:
        raise ApiFailure("no such tenant", "tenant_id", code="not_found")

    async def outage(request: TenantRef) -> Any:
        raise ServerSelectionTimeoutError("mongod is down")

    async def bug(request: TenantRef) -> Any:
        raise KeyError("oops")

    body = b'{"tenant_id": "t1"}'
    refused = run(answer(body, ConfigApi.tenant_get, refuse)).error
    assert (refused.code, refused.field) == ("not_found", "tenant_id")
    unavailable = run(answer(body, ConfigApi.tenant_get, outage, outages=(ConnectionFailure,)))
    assert unavailable.error.code == "unavailable"
    crashed = run(answer(body, ConfigApi.tenant_get, bug)).error
    assert crashed.code == "internal" and "oops" not in crashed.message
    for reply in (refused, crashed):
        assert reply.code in catalog.ERROR_CODES


def test_a_router_refuses_to_start_unless_it_answers_exactly_its_catalog_endpoints() -> None:
    router: ApiRouter[None] = ApiRouter("scheduler")

    @router.handles(SchedulerApi.sync_now)
    async def sync_now(request: SyncNow, deps: None) -> SyncNowAccepted:
        return await accepted(request)

    with pytest.raises(ValueError, match=r"missing \['health', "):
        router.check()
    with pytest.raises(ValueError, match="cannot answer history.health"):
        router.handles(HistoryApi.health)
    with pytest.raises(ValueError, match="two handlers"):
        router.handles(SchedulerApi.sync_now)


def test_a_durable_reading_several_flows_filters_on_their_common_prefix() -> None:
    pipeline = catalog.partitions("history", "pipeline")[0]
    flows = tuple(catalog.flow(name) for name in pipeline.flows)
    assert _filter(flows, Names("t1")) == "t1.entrasync.sync.>"
    assert _filter((catalog.flow("syncRecorded"),), Names()) == "entrasync.sync.recorded.*"


def test_parse_picks_the_flow_by_subject_and_refuses_the_rest() -> None:
    names = Names()
    flows = tuple(catalog.flow(name) for name in catalog.partitions("history", "pipeline")[0].flows)
    with pytest.raises(Malformed, match="not a SyncStarted"):
        parse(flows, names, "entrasync.sync.run.t1.started", b"{}")
    with pytest.raises(Malformed, match="unexpected subject"):
        parse(flows, names, "entrasync.sync.run.t1.paused", b"{}")


def test_the_catalog_is_consistent() -> None:
    names = Names()
    subjects = [e.subject(names) for e in catalog.ENDPOINTS]
    assert len(subjects) == len(set(subjects))
    for endpoint in catalog.ENDPOINTS:
        assert endpoint.request.model_config.get("extra") == "forbid", endpoint.name
        assert endpoint.callers, endpoint.name
    flow_names = {f.name for f in catalog.FLOWS}
    for durable in catalog.DURABLES:
        assert set(durable.flows) <= flow_names
        for flow in durable.flows:
            assert catalog.flow(flow).stream == durable.stream
            assert durable.service in catalog.flow(flow).consumers
    for flow in catalog.FLOWS:
        assert set(flow.ordered) <= set(flow.consumers), flow.name


def test_a_consumed_message_says_which_tenant_and_run_it_is_about() -> None:
    started = SyncStarted.model_construct(tenant_id="t1", run_id="r1")
    assert about(started) == {"tenant_id": "t1", "run_id": "r1"}
    assert about(TenantRef(tenant_id="t2")) == {"tenant_id": "t2", "run_id": None}
