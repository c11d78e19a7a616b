from __future__ import annotations

from typing import Any

from entrasync_config.domain import Conflict, Unavailable
from entrasync_config.handlers import answer
from entrasync_shared.messages import TenantRef


async def echo(request: Any) -> Any:
    return request


async def test_malformed_json_is_invalid_without_a_field() -> None:
    reply = await answer(b"{oops", TenantRef, echo)

    assert reply.error is not None
    assert (reply.ok, reply.error.code, reply.error.field) == (False, "invalid", None)


async def test_a_validation_error_names_its_field() -> None:
    reply = await answer(b'{"tenant_id": 7}', TenantRef, echo)

    assert reply.error is not None and reply.error.field == "tenant_id"


async def test_a_body_is_optional_for_verbs_without_a_request() -> None:
    reply = await answer(b"", None, echo)

    assert reply.ok and reply.result is None


async def test_refusals_keep_their_code_and_field() -> None:
    async def taken(_: Any) -> None:
        raise Conflict("taken", field="name")

    async def nats_down(_: Any) -> None:
        raise Unavailable("could not publish")

    conflict = await answer(b"{}", None, taken)
    unavailable = await answer(b"{}", None, nats_down)

    assert conflict.error is not None and unavailable.error is not None
    assert (conflict.error.code, conflict.error.field) == ("conflict", "name")
    assert unavailable.error.code == "unavailable"


async def test_a_bug_becomes_an_internal_error_reply() -> None:
    async def broken(_: Any) -> None:
        raise KeyError("boom")

    reply = await answer(b"{}", None, broken)

    assert reply.error is not None and reply.error.code == "internal"
    assert "boom" not in reply.error.message
