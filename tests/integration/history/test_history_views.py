"""The Sync History as people read it: runs with changes or errors only, search by what the
table shows (dates as displayed, numbers), and deleted tenants whose history was kept.

Every answer is checked against the same rule applied in Python to all rows (`matches_row`,
`run_has_changes`), over several UTC days so the per-day counts and page starts are exercised.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_history.domain.search import row_search
from entrasync_shared.messages import (
    DeletedTenants,
    DeletedTenantsQuery,
    HistoryExportChunk,
    HistoryExportRequest,
    HistoryRow,
    HistoryRunsQuery,
    Page,
    Tenant,
    TenantDeleted,
)
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from history_helpers import TENANT, PastRun, eventually, seed_runs, starts
from nats.aio.client import Client as NatsClient

OTHER = "c0ffee00-0000-4000-8000-000000000002"
CELL_KEYS = ("tenant_id", "day", "object_type", "status", "expire_at")


async def rows(nc: NatsClient, names: Names, **query: Any) -> Page[HistoryRow]:
    request = HistoryRunsQuery(tenant_id=query.pop("tenant_id", TENANT), **query)
    return await call(nc, names.api("history", "runs.list"), request, Page[HistoryRow])


async def every_row(nc: NatsClient, names: Names, **query: Any) -> list[HistoryRow]:
    found: list[HistoryRow] = []
    page = 1
    while True:
        got = await rows(nc, names, page=page, page_size=1000, **query)
        found += got.items
        if len(found) >= got.total or not got.items:
            return found
        page += 1


def keys(found: list[HistoryRow] | tuple[HistoryRow, ...]) -> list[tuple[str, str]]:
    return [(r.run_id, r.object_type) for r in found]


def with_changes(everything: list[HistoryRow]) -> list[HistoryRow]:
    """What "changes or errors" keeps, decided per run from all its rows."""
    kept = {
        r.run_id for r in everything if r.changed or r.deleted or r.error or r.status != "Succeeded"
    }
    return [r for r in everything if r.run_id in kept]


def shown(moment: datetime) -> str:
    """A time as the console shows it (`rendering.when`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def seed_mixed_runs(store: MongoHistoryStore) -> list[datetime]:
    """150 runs 20 minutes apart (two to three UTC days): most all-zero, some with changes,
    some failed, one still running."""
    times = starts(150, timedelta(minutes=20))
    runs = []
    for i, at in enumerate(times):
        if i % 9 == 4:
            runs.append(PastRun(at, changed=3, total=40 + i))
        elif i % 25 == 7:
            runs.append(PastRun(at, {"device": f"Graph answered 429 (run {i})"}, changed=0))
        else:
            runs.append(PastRun(at, changed=0, total=12))
    runs.append(PastRun(times[0] + timedelta(minutes=1), status="Running", changed=0))
    await seed_runs(store, runs)
    return times


async def test_changes_only_keeps_runs_with_changes_or_errors_page_by_page(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    await seed_mixed_runs(store)
    await seed_runs(store, [PastRun(at, tenant_id=OTHER) for at in starts(5)])
    everything = await every_row(nc, names)
    expected = with_changes(everything)
    assert 0 < len(expected) < len(everything) / 3

    first = await rows(nc, names, changes_only=True)
    assert first.total == len(expected)
    assert keys(first.items) == keys(expected)[:50]
    for page in (2, 3):
        got = await rows(nc, names, changes_only=True, page=page)
        assert keys(got.items) == keys(expected)[(page - 1) * 50 : page * 50]
    running = [r for r in first.items if r.status == "Running"]
    assert len(running) == 3, "a run in progress stays visible"
    for text in ("user", "fail", "429", "40", "e"):
        search = row_search(text)
        assert search is not None
        wanted = [r for r in expected if search.matches_row(r)]
        got = await every_row(nc, names, changes_only=True, search=text)
        assert keys(got) == keys(wanted), text
        assert (await rows(nc, names, changes_only=True, search=text)).total == len(wanted)


async def test_a_quiet_run_leaves_the_changes_view_once_recorded(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=3)
    quiet = PastRun(at, changed=0, run_id="quiet")
    await seed_runs(store, [PastRun(at, status="Running", changed=0, run_id="quiet")])
    assert keys((await rows(nc, names, changes_only=True)).items) == [
        ("quiet", t) for t in ("user", "group", "device")
    ]
    await seed_runs(store, [quiet])
    hidden = await rows(nc, names, changes_only=True)
    assert (hidden.total, hidden.items) == (0, ())
    assert (await rows(nc, names)).total == 3


async def test_search_finds_dates_and_times_as_the_console_shows_them(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    times = await seed_mixed_runs(store)
    everything = await every_row(nc, names)
    probe = times[40]
    texts = [
        shown(probe),  # the whole cell, " UTC" included
        shown(probe)[:16],  # to the minute
        shown(probe)[:13],  # the hour
        shown(probe)[:10],  # the day
        shown(times[-1])[:10],  # the oldest day (the page walk crosses days)
        shown(probe)[:7],  # the month
        shown(probe)[:13].replace(" ", "T"),  # ISO's T between date and time
    ]
    for text in texts:
        as_shown = text[:10] + text[10:11].replace("T", " ") + text[11:]
        wanted = [r for r in everything if shown(r.started_at).startswith(as_shown)]
        assert wanted, text
        got = await every_row(nc, names, search=text)
        assert keys(got) == keys(wanted), text
        page = await rows(nc, names, search=text, page=2)
        assert keys(page.items) == keys(wanted)[50:100], text
        assert page.total == len(wanted), text
        quiet_hidden = [r for r in with_changes(everything) if r in wanted]
        assert keys(await every_row(nc, names, search=text, changes_only=True)) == keys(
            quiet_hidden
        )
    assert (await rows(nc, names, search="1999-01-01 00:00")).total == 0


async def test_search_finds_a_number_as_any_of_the_row_counts(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    await seed_mixed_runs(store)
    everything = await every_row(nc, names)
    for text, count in (("12", 12), ("3", 3), ("44", 44), ("1,000", 1000)):
        wanted = [
            r
            for r in everything
            if count in (r.total, r.changed, r.deleted, r.filtered)
            or (r.error is not None and text in r.error)
        ]
        got = await every_row(nc, names, search=text)
        assert keys(got) == keys(wanted), text
        assert (await rows(nc, names, search=text)).total == len(wanted), text


async def test_the_export_can_keep_only_runs_with_changes(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    await seed_mixed_runs(store)
    expected = with_changes(await every_row(nc, names))
    subject = names.api("history", "runs.export")
    lines: list[str] = []
    after = None
    while True:
        request = HistoryExportRequest(
            tenant_id=TENANT, changes_only=True, max_rows=20, after=after
        )
        chunk = await call(nc, subject, request, HistoryExportChunk)
        lines += chunk.csv.splitlines()
        if chunk.next is None:
            break
        after = chunk.next
    assert lines[0].startswith("Start Time,") and "Mode,Reason" in lines[0]
    run_id = next(csv.reader(lines[:1])).index("Run Id")
    assert [row[run_id] for row in csv.reader(lines[1:])] == [r.run_id for r in expected]


async def test_a_deleted_tenant_keeps_its_name_and_its_history_readable(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    await seed_runs(store, [PastRun(at, tenant_id=OTHER) for at in starts(4)])
    await seed_runs(store, [PastRun(at) for at in starts(2)])
    now = datetime.now(UTC)
    policy = Tenant(
        id=OTHER,
        name="Contoso (old)",
        tenant="contoso.onmicrosoft.com",
        cloud="global",
        profile_id="p1",
        enabled=True,
        full_scan_next=False,
        object_types=("user", "group", "device"),
        interval_seconds=900,
        created_at=now,
        updated_at=now,
    )
    js = nc.jetstream()
    subject, stream = names.tenant_event("deleted"), names.config_stream
    kept = TenantDeleted(tenant_id=OTHER, tenant=policy)
    await js.publish(subject, kept.model_dump_json().encode(), stream=stream)
    purged = TenantDeleted(tenant_id=TENANT, purge_history=True)
    await js.publish(subject, purged.model_dump_json().encode(), stream=stream)
    deleted_subject = names.api("history", "tenants.deleted")

    async def listed() -> DeletedTenants | None:
        found = await call(nc, deleted_subject, DeletedTenantsQuery(), DeletedTenants)
        return found if found.items else None

    found = await eventually(listed, "the deleted tenant to be remembered")
    (item,) = found.items
    assert (item.tenant_id, item.name, item.tenant, item.cloud) == (
        OTHER,
        "Contoso (old)",
        "contoso.onmicrosoft.com",
        "global",
    )
    one = await call(nc, deleted_subject, DeletedTenantsQuery(tenant_id=OTHER), DeletedTenants)
    assert one.items == found.items
    none = await call(nc, deleted_subject, DeletedTenantsQuery(tenant_id=TENANT), DeletedTenants)
    assert none.items == ()
    assert (await rows(nc, names, tenant_id=OTHER)).total == 12


async def test_rows_written_before_the_flags_existed_are_completed_at_start(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names, db: Any
) -> None:
    await seed_mixed_runs(store)
    everything = await every_row(nc, names)
    # As an older version left them: no flag, no numbers, cells without either.
    await db["history"].update_many({}, {"$unset": {"has_changes": "", "numbers": ""}})
    await db["history_counts"].update_many({}, {"$unset": {"changes": "", "nums": ""}})
    quiet = await db["history_counts"].find({"_id": {"$regex": "[|]quiet$"}}).to_list()
    for cell in quiet:  # older cells had no quiet twin: fold them back
        await db["history_counts"].delete_one({"_id": cell["_id"]})
        await db["history_counts"].update_one(
            {"_id": cell["_id"].removesuffix("|quiet")},
            {"$inc": {"n": cell["n"]}, "$setOnInsert": {k: cell[k] for k in CELL_KEYS}},
            upsert=True,
        )
    await store.ensure_indexes()
    # Older rows count as having changes; numbers are found again, totals exact.
    assert (await rows(nc, names, changes_only=True)).total == len(everything)
    for text in ("12", "3"):
        search = row_search(text)
        assert search is not None
        wanted = [r for r in everything if search.matches_row(r)]
        assert (await rows(nc, names, search=text)).total == len(wanted), text
        assert keys(await every_row(nc, names, search=text)) == keys(wanted), text
