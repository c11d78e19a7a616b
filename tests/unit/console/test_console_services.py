"""How the console calls the other services: by catalog endpoint, with the catalog's error codes
as HTTP statuses, and with Test Connection's longer wait."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from console_fakes import FakeServices, profile, tenant
from entrasync_console.adapters.nats import TEST_GRACE, NatsServices
from entrasync_console.core import ops, views
from entrasync_console.core.errors import HTTP_STATUS, http_status
from entrasync_shared.catalog import ERROR_CODES, SERVICES, ConfigApi, HistoryApi
from entrasync_shared.messages import (
    ApiError,
    ConnectionTest,
    Health,
    Reply,
    TenantRef,
    TenantTest,
)
from entrasync_shared.natsutil import ApiCallError
from entrasync_shared.subjects import Names
from nats.errors import NoRespondersError


def test_every_catalog_error_code_has_an_http_status_and_nothing_else_does() -> None:
    assert set(HTTP_STATUS) == set(ERROR_CODES)
    assert all(400 <= status < 600 for status in HTTP_STATUS.values())


@pytest.mark.parametrize(
    ("code", "status"),
    [("validation", 422), ("not_found", 404), ("in_use", 409), ("timeout", 503)],
)
def test_service_error_codes_keep_their_http_statuses(code: str, status: int) -> None:
    assert http_status(code) == status


def test_a_code_outside_the_catalog_is_a_failed_service() -> None:
    assert http_status("invalid") == 502  # history's old spelling of `validation`


def test_health_asks_every_service_of_the_catalog_briefly() -> None:
    assert tuple(ops.HEALTH) == SERVICES


async def test_a_health_check_waits_only_briefly() -> None:
    services = FakeServices()
    services.answer(ops.HEALTH["history"], Health(service="history", ok=True))
    assert (await ops.health(services, "history")).ok
    assert [c.timeout for c in services.calls] == [ops.HEALTH_TIMEOUT]


async def test_a_tenant_is_found_by_name_domain_or_directory_guid() -> None:
    services = FakeServices()
    known = [
        tenant("t1", "Contoso", "contoso.com", entra_tenant_id="0f0e"),
        tenant("t2", "Fabrikam", "fabrikam.com"),
    ]
    services.answer(ConfigApi.tenant_list, known)
    for ref in ("t1", "contoso", "CONTOSO.COM", "0f0e"):
        assert (await ops.find_tenant(services, ref)).id == "t1"
    with pytest.raises(ApiCallError) as refused:
        await ops.find_tenant(services, "northwind")
    assert refused.value.error.code == "not_found"


async def test_tenant_rows_say_why_their_last_sync_is_unknown_while_history_is_down() -> None:
    services = FakeServices()
    services.answer(ConfigApi.profile_list, [profile("p1", "Main app")])
    (row,) = await views.tenant_views(services, [tenant("t1", "Contoso", "contoso.com")])
    assert row.profile_name == "Main app"
    assert row.last_sync is None
    assert row.last_sync_error == "the history service does not answer 'tenants.status'"


async def test_lists_are_sorted_by_name_ignoring_case() -> None:
    services = FakeServices()
    services.answer(
        ConfigApi.tenant_list,
        [tenant("t1", "fabrikam", "f.com"), tenant("t2", "Contoso", "c.com")],
    )
    assert [t.name for t in await views.tenants_by_name(services)] == ["Contoso", "fabrikam"]


async def test_the_csv_export_asks_history_for_each_chunk_in_turn() -> None:
    services = FakeServices()
    chunks = {None: ("a\n", "k1"), "k1": ("b\n", None)}

    def export(request: Any) -> Any:
        text, after = chunks[request.after]
        return {"csv": text, "rows": 1, "next": after}

    services.answer(HistoryApi.runs_export, lambda r: _chunk(export(r)))
    first, rest = await views.csv_chunks(services, "t1", "")
    assert [first, *[chunk async for chunk in rest]] == ["a\n", "b\n"]


def _chunk(values: dict[str, Any]) -> Any:
    return HistoryApi.runs_export.reply.model_validate(values)


# -- the NATS adapter ---------------------------------------------------------------------------


@dataclass
class Sent:
    subject: str
    timeout: float


class FakeNats:
    """The part of a NATS client `ApiClient` uses: `request`, answered with one reply."""

    def __init__(self, reply: Reply[Any] | None) -> None:
        self.reply, self.sent, self.is_connected = reply, list[Sent](), True

    async def request(
        self, subject: str, payload: bytes, timeout: float, headers: Any = None
    ) -> Any:
        self.sent.append(Sent(subject, timeout))
        if self.reply is None:
            raise NoRespondersError
        return _Msg(self.reply.model_dump_json().encode())


@dataclass
class _Msg:
    data: bytes


def nats_services(nc: FakeNats) -> NatsServices:
    return NatsServices(nc, Names("p"), timeout=3.0, test_timeout=20.0)  # type: ignore[arg-type]


async def test_calls_go_to_the_endpoints_subject_and_come_back_typed() -> None:
    answered = tenant("t1", "Contoso", "contoso.com")
    nc = FakeNats(Reply(ok=True, result=answered.model_dump(mode="json")))
    found = await nats_services(nc).call(ConfigApi.tenant_get, TenantRef(tenant_id="t1"))
    assert found == answered
    assert nc.sent == [Sent(ConfigApi.tenant_get.subject(Names("p")), 3.0)]


async def test_a_connection_test_waits_its_own_limit_plus_a_grace() -> None:
    result = {
        "ok": True,
        "message": "ok",
        "tenant": "contoso.com",
        "cloud": "global",
        "steps": [],
        "duration_ms": 5,
        "tested_at": "2026-03-10T01:02:03Z",
    }
    nc = FakeNats(Reply(ok=True, result=result))
    services = nats_services(nc)
    request = ConnectionTest(tenant="contoso.com", cloud="global", profile_id="p1")
    await services.call(ConfigApi.connection_test, request)
    await services.call(ConfigApi.tenant_test, TenantTest(tenant_id="t1", timeout_seconds=7))
    assert [s.timeout for s in nc.sent] == [20.0 + TEST_GRACE, 7 + TEST_GRACE]


async def test_a_service_that_is_down_is_unavailable_in_the_callers_words() -> None:
    services = nats_services(FakeNats(None))
    with pytest.raises(ApiCallError) as refused:
        await services.call(HistoryApi.tenants_deleted)
    assert refused.value.error.code == "unavailable"
    assert "the history service does not answer 'tenants.deleted'" in refused.value.error.message


async def test_a_refusal_keeps_the_services_code() -> None:
    error = ApiError(code="in_use", message="used by 2 tenants")
    services = nats_services(FakeNats(Reply(ok=False, error=error)))
    with pytest.raises(ApiCallError) as refused:
        await services.call(ConfigApi.profile_list)
    assert refused.value.error == error
