"""Config's API through the kit: its router answers exactly the catalog's config endpoints, and
`answer()` turns config's requests and refusals into replies with catalog error codes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from entrasync_config.domain import ConfigError, Conflict, InUse, Invalid, NotFound, Unavailable
from entrasync_config.entrypoints.api import api
from entrasync_config.entrypoints.sync_recorded import sync_recorded
from entrasync_shared import catalog
from entrasync_shared.catalog import ConfigApi
from entrasync_shared.kit.api import MAX_REQUEST_BYTES, ApiFailure, answer
from entrasync_shared.kit.micro import MicroService
from pymongo.errors import OperationFailure


async def echo(request: Any) -> Any:
    return request


async def nothing(_: Any) -> None:
    return None


def test_the_router_answers_exactly_configs_catalog_endpoints() -> None:
    api.check()
    assert set(api.handlers) == {e.verb for e in catalog.endpoints("config")}


def test_the_sync_recorded_consumer_is_the_catalogs_durable() -> None:
    assert sync_recorded.durable == catalog.durable("config", "sync-recorded")
    assert sync_recorded.handler is not None
    assert [f.name for f in sync_recorded.flows] == ["syncRecorded"]


def test_every_refusal_code_is_a_catalog_error_code() -> None:
    for refusal in (ConfigError, Invalid, NotFound, Conflict, InUse, Unavailable):
        assert issubclass(refusal, ApiFailure)
        assert refusal("x").code in catalog.ERROR_CODES, refusal


async def test_malformed_json_is_a_validation_error_without_a_field() -> None:
    reply = await answer(b"{oops", ConfigApi.tenant_get, echo)

    assert reply.error is not None
    assert (reply.ok, reply.error.code, reply.error.field) == (False, "validation", None)


async def test_a_validation_error_names_its_field() -> None:
    reply = await answer(b'{"tenant_id": 7}', ConfigApi.tenant_get, echo)

    assert reply.error is not None and reply.error.field == "tenant_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"tenant": "a.com", "profile_id": "p", "enabled": "yes"}', "enabled"),
        (b'{"tenant": "a.com", "profile_id": "p", "interval_seconds": "60"}', "interval_seconds"),
        (b'{"tenant": "a.com", "profile_id": 5}', "profile_id"),
    ],
)
async def test_types_are_strict(body: bytes, field: str) -> None:
    reply = await answer(body, ConfigApi.tenant_create, echo)

    assert reply.error is not None and reply.error.field == field


async def test_value_errors_read_as_sentences() -> None:
    body = b'{"tenant": "not a domain", "profile_id": "p"}'
    reply = await answer(body, ConfigApi.tenant_create, echo)

    assert reply.error is not None
    assert reply.error.message.startswith("tenant must be a DNS domain")


async def test_an_oversized_request_is_refused_before_parsing() -> None:
    body = b'{"tenant_id": "' + b"x" * MAX_REQUEST_BYTES + b'"}'

    reply = await answer(body, ConfigApi.tenant_get, echo)

    assert reply.error is not None
    assert reply.error.code == "validation" and "too large" in reply.error.message


async def test_a_verb_without_arguments_takes_an_empty_body_or_object_only() -> None:
    empty = await answer(b"", ConfigApi.health, nothing)
    braces = await answer(b"{}", ConfigApi.health, nothing)
    extra = await answer(b'{"page": 2}', ConfigApi.health, nothing)

    assert empty.ok and braces.ok and empty.result is None
    assert extra.error is not None and extra.error.field == "page"


async def test_refusals_keep_their_code_and_field() -> None:
    async def taken(_: Any) -> None:
        raise Conflict("taken", field="name")

    async def used(_: Any) -> None:
        raise InUse("used by tenant x", field="profile_id")

    async def nats_down(_: Any) -> None:
        raise Unavailable("could not publish")

    conflict = await answer(b"{}", ConfigApi.health, taken)
    in_use = await answer(b"{}", ConfigApi.health, used)
    unavailable = await answer(b"{}", ConfigApi.health, nats_down)

    assert conflict.error is not None and in_use.error is not None
    assert unavailable.error is not None
    assert (conflict.error.code, conflict.error.field) == ("conflict", "name")
    assert (in_use.error.code, in_use.error.field) == ("in_use", "profile_id")
    assert unavailable.error.code == "unavailable"


async def test_any_database_error_is_unavailable_with_configs_outages() -> None:
    async def refused_by_mongod(_: Any) -> None:
        raise OperationFailure("not primary")

    reply = await answer(b"{}", ConfigApi.health, refused_by_mongod, outages=api.outages)

    assert reply.error is not None and reply.error.code == "unavailable"


async def test_a_bug_becomes_an_internal_error_reply() -> None:
    async def broken(_: Any) -> None:
        raise KeyError("boom")

    reply = await answer(b"{}", ConfigApi.health, broken)

    assert reply.error is not None and reply.error.code == "internal"
    assert "boom" not in reply.error.message


def test_micro_stats_count_requests_errors_and_time() -> None:
    service = MicroService("entrasync-config", api.description, "1.0.0", {"prefix": "p"})
    service.endpoint("tenant.get", "p.entrasync.api.config.tenant.get", "entrasync-config")

    service.record("tenant.get", time.perf_counter_ns(), None)
    service.record("tenant.get", time.perf_counter_ns(), "not_found: no tenant 'x'")

    [stats] = service.stats()["endpoints"]
    assert service.stats()["type"] == "io.nats.micro.v1.stats_response"
    assert (stats["name"], stats["num_requests"], stats["num_errors"]) == ("tenant-get", 2, 1)
    assert stats["last_error"] == "not_found: no tenant 'x'"
    assert stats["processing_time"] >= stats["average_processing_time"] >= 0
    assert service.info()["endpoints"][0]["subject"] == "p.entrasync.api.config.tenant.get"
    assert service.ping()["id"] == service.id
    assert service.ping()["name"] == "entrasync-config"
