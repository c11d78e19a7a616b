"""The API layer: validation, error codes and CSV chunks, over a fake query port."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.entrypoints.api import api
from entrasync_history.entrypoints.deps import Deps
from entrasync_history.usecases.pipeline import Context
from entrasync_shared.catalog import Endpoint, HistoryApi
from entrasync_shared.kit.api import answer
from entrasync_shared.messages import HistoryRow, Reply
from entrasync_shared.subjects import Names
from history_fakes import FakeDeadLetters, FakeEventPublisher, FakeHistoryQueries, FakeHistoryStore

T = datetime(2025, 5, 1, tzinfo=UTC)


def rows(count: int) -> list[HistoryRow]:
    return [
        HistoryRow(
            tenant_id="t",
            run_id=f"r{i:03d}",
            object_type="user",
            mode="delta",
            reason="schedule",
            status="Failed" if i % 10 == 0 else "Succeeded",
            started_at=T + timedelta(minutes=i),
            error="=HYPERLINK(1)" if i % 10 == 0 else None,
        )
        for i in range(count)
    ]


def body(value: object) -> bytes:
    return json.dumps(value).encode()


async def ask(endpoint: Endpoint, queries: FakeHistoryQueries, payload: bytes) -> Reply:
    """`payload` answered by the router's handler, as the kit answers it on NATS."""
    store, names = FakeHistoryStore(), Names("p")
    ctx = Context(store, FakeEventPublisher(), names, GuardrailPolicy(), 2)
    deps = Deps(names, ctx, store, queries, FakeDeadLetters(), 2.0, 0.5)
    handler = api.handlers[endpoint.verb]
    return await answer(payload, endpoint, lambda r: handler(r, deps), outages=api.outages)


def test_the_router_answers_exactly_the_catalog_endpoints() -> None:
    api.check()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"tenant_id": "t", "page_size": 500}, "page_size"),
        ({"tenant_id": "t", "search": {"$gt": ""}}, "search"),
        ({"tenant_id": "t", "search": ["$where"]}, "search"),
        ({"tenant_id": "t", "search": "x" * 201}, "search"),
        ({"tenant_id": "t", "$where": "1"}, "$where"),
    ],
)
async def test_an_invalid_runs_query_is_refused_with_the_field(payload: object, field: str) -> None:
    reply = await ask(HistoryApi.runs_list, FakeHistoryQueries(rows(3)), body(payload))
    assert not reply.ok and reply.error is not None
    assert (reply.error.code, reply.error.field) == ("validation", field)


async def test_not_json_at_all_is_refused() -> None:
    reply = await ask(HistoryApi.runs_list, FakeHistoryQueries(), b"{not json")
    assert reply.error is not None and reply.error.code == "validation"


async def test_the_page_size_error_says_what_is_allowed() -> None:
    reply = await ask(
        HistoryApi.runs_list, FakeHistoryQueries(), body({"tenant_id": "t", "page_size": 10})
    )
    assert reply.error is not None
    assert reply.error.message == "page_size must be 50, 100 or 1000"


async def test_the_export_comes_in_chunks_with_the_header_only_first() -> None:
    queries = FakeHistoryQueries(rows(25))
    text, after, replies = "", None, 0
    while True:
        request = {"tenant_id": "t", "max_rows": 10, **({"after": after} if after else {})}
        reply = await ask(HistoryApi.runs_export, queries, body(request))
        assert reply.ok and reply.result is not None
        text += reply.result.csv
        replies += 1
        after = reply.result.next
        if after is None:
            break
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert replies == 3 and len(table) == 26 and table[0][0] == "Start Time"
    assert [r[11] for r in table[1:]] == [f"r{i:03d}" for i in range(24, -1, -1)]
    assert {r[10] for r in table[1:] if r[7] == "Failed"} == {"'=HYPERLINK(1)"}


async def test_a_database_outage_is_reported_as_unavailable() -> None:
    from pymongo.errors import ServerSelectionTimeoutError

    class Down(FakeHistoryQueries):
        async def history_rows(self, query, now):  # type: ignore[no-untyped-def]
            raise ServerSelectionTimeoutError("no primary")

    reply = await ask(HistoryApi.runs_list, Down(), body({"tenant_id": "t"}))
    assert reply.error is not None and reply.error.code == "unavailable"


async def test_an_override_needs_an_operator() -> None:
    queries = FakeHistoryQueries()
    reply = await ask(
        HistoryApi.guardrail_override, queries, body({"tenant_id": "t", "operator": "  "})
    )
    assert reply.error is not None and reply.error.field == "operator"
    reply = await ask(
        HistoryApi.guardrail_override, queries, body({"tenant_id": "t", "operator": "bob"})
    )
    assert reply.ok and [g.operator for g in queries.grants] == ["bob"]
