from __future__ import annotations

import time
from typing import Any

import pytest
from entrasync_config.domain import Conflict, InUse, Unavailable
from entrasync_config.handlers import MAX_REQUEST_BYTES, answer
from entrasync_config.micro import MicroService
from entrasync_shared.messages import TenantCreate, TenantRef


async def echo(request: Any) -> Any:
    return request


async def test_malformed_json_is_a_validation_error_without_a_field() -> None:
    reply = await answer(b"{oops", TenantRef, echo)

    assert reply.error is not None
    assert (reply.ok, reply.error.code, reply.error.field) == (False, "validation", None)


async def test_a_validation_error_names_its_field() -> None:
    reply = await answer(b'{"tenant_id": 7}', TenantRef, echo)

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
    reply = await answer(body, TenantCreate, echo)

    assert reply.error is not None and reply.error.field == field


async def test_value_errors_read_as_sentences() -> None:
    reply = await answer(b'{"tenant": "not a domain", "profile_id": "p"}', TenantCreate, echo)

    assert reply.error is not None
    assert reply.error.message.startswith("tenant must be a DNS domain")


async def test_an_oversized_request_is_refused_before_parsing() -> None:
    body = b'{"tenant_id": "' + b"x" * MAX_REQUEST_BYTES + b'"}'

    reply = await answer(body, TenantRef, echo)

    assert reply.error is not None
    assert reply.error.code == "validation" and "too large" in reply.error.message


async def test_a_verb_without_arguments_takes_an_empty_body_or_object_only() -> None:
    empty = await answer(b"", None, lambda _: echo(None))
    braces = await answer(b"{}", None, lambda _: echo(None))
    extra = await answer(b'{"page": 2}', None, lambda _: echo(None))

    assert empty.ok and braces.ok and empty.result is None
    assert extra.error is not None and extra.error.field == "page"


async def test_refusals_keep_their_code_and_field() -> None:
    async def taken(_: Any) -> None:
        raise Conflict("taken", field="name")

    async def used(_: Any) -> None:
        raise InUse("used by tenant x", field="profile_id")

    async def nats_down(_: Any) -> None:
        raise Unavailable("could not publish")

    conflict = await answer(b"{}", None, taken)
    in_use = await answer(b"{}", None, used)
    unavailable = await answer(b"{}", None, nats_down)

    assert conflict.error is not None and in_use.error is not None
    assert unavailable.error is not None
    assert (conflict.error.code, conflict.error.field) == ("conflict", "name")
    assert (in_use.error.code, in_use.error.field) == ("in_use", "profile_id")
    assert unavailable.error.code == "unavailable"


async def test_a_bug_becomes_an_internal_error_reply() -> None:
    async def broken(_: Any) -> None:
        raise KeyError("boom")

    reply = await answer(b"{}", None, broken)

    assert reply.error is not None and reply.error.code == "internal"
    assert "boom" not in reply.error.message


def test_micro_stats_count_requests_errors_and_time() -> None:
    service = MicroService(version="1.0.0", metadata={"prefix": "p"})
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
