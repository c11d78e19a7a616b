import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from entrasync_devtools.infra import LocalInfra
from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_shared.messages import (
    Health,
    HistoryCountsQuery,
    HistoryObjectQuery,
    HistoryObjectsQuery,
    HistoryRow,
    HistoryRunsQuery,
    InventoryCounts,
    InventoryItem,
    Page,
    TenantsStatusQuery,
    TenantsSyncStatus,
)
from entrasync_shared.natsutil import ApiCallError, call
from entrasync_shared.subjects import Names
from history_helpers import TENANT, PastRun, Pipeline, Run, ask, eventually, obj, seed_runs, starts
from nats.aio.client import Client as NatsClient

OTHER = "c0ffee00-0000-4000-8000-000000000002"


async def rows(nc: NatsClient, names: Names, **query: Any) -> Page[HistoryRow]:
    request = HistoryRunsQuery(tenant_id=TENANT, **query)
    return await call(nc, names.api("history", "runs.list"), request, Page[HistoryRow])


def keys(page: Page[HistoryRow]) -> list[tuple[str, str]]:
    return [(r.run_id, r.object_type) for r in page.items]


async def test_rows_are_paged_newest_first_in_pages_of_50_100_and_1000(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    # 420 runs ten minutes apart: 1260 rows over about three UTC days.
    await seed_runs(store, [PastRun(at) for at in starts(420, timedelta(minutes=10))])
    await seed_runs(store, [PastRun(at, tenant_id=OTHER) for at in starts(5)])

    first = await rows(nc, names, page_size=1000)
    second = await rows(nc, names, page=2, page_size=1000)
    assert (first.total, len(first.items), len(second.items)) == (1260, 1000, 260)
    everything = [*first.items, *second.items]
    order = [(r.started_at, r.run_id, r.object_type) for r in everything]
    assert order == sorted(order, reverse=True)
    assert len(set(keys(first) + keys(second))) == 1260
    assert {r.tenant_id for r in everything} == {TENANT}
    assert [r.object_type for r in everything[:3]] == ["user", "group", "device"]

    default = await rows(nc, names)
    assert (default.page_size, keys(default)) == (50, keys(first)[:50])
    for page in (2, 7, 13):
        hundred = await rows(nc, names, page=page, page_size=100)
        assert keys(hundred) == [*keys(first), *keys(second)][(page - 1) * 100 : page * 100]
    beyond = await rows(nc, names, page=3, page_size=1000)
    assert (beyond.total, beyond.items) == (1260, ())


@pytest.mark.parametrize(
    ("request_body", "field", "message"),
    [
        ({"tenant_id": TENANT, "page_size": 500}, "page_size", "page_size must be 50, 100 or 1000"),
        ({"tenant_id": TENANT, "page_size": 20}, "page_size", "page_size must be 50, 100 or 1000"),
        ({"tenant_id": TENANT, "page": 0}, "page", "greater than or equal to 1"),
        ({"tenant_id": TENANT, "search": {"$gt": ""}}, "search", "valid string"),
        ({"tenant_id": {"$ne": ""}}, "tenant_id", "valid string"),
        ({"tenant_id": TENANT, "$where": "sleep(1000)"}, "$where", "Extra inputs"),
        ({"tenant_id": TENANT, "search": "a\nb"}, "search", "control characters"),
        ({}, "tenant_id", "Field required"),
    ],
)
async def test_a_bad_history_query_gets_an_error_reply(
    history: None, nc: NatsClient, names: Names, request_body: Any, field: str, message: str
) -> None:
    reply = await ask(nc, names.api("history", "runs.list"), request_body)
    assert reply["ok"] is False
    assert (reply["error"]["code"], reply["error"]["field"]) == ("validation", field)
    assert message in reply["error"]["message"]


SEARCHABLE = {
    "dot-star": {"user": "Graph said: .* is not a valid filter"},
    "metachars": {"group": r"boom (x+)[y]? {2} ^$ | \ happened"},
    "where": {"device": "$where: function() { return true }"},
    "operator": {"user": 'request body {"$gt": ""} was refused'},
    "aadsts": {"user": "AADSTS7000215: Invalid client secret provided"},
}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        (".*", [("dot-star", "user")]),
        ("(x+)[y]?", [("metachars", "group")]),
        ("^", [("metachars", "group")]),
        ("\\", [("metachars", "group")]),
        ("|", [("metachars", "group")]),
        ("$where", [("where", "device")]),
        ('{"$gt": ""}', [("operator", "user")]),
        ("aadsts7000215", [("aadsts", "user")]),
        ("nothing like this", []),
    ],
)
async def test_search_takes_the_text_literally(
    history: None,
    store: MongoHistoryStore,
    nc: NatsClient,
    names: Names,
    search: str,
    expected: list[tuple[str, str]],
) -> None:
    times = iter(starts(len(SEARCHABLE) + 3))
    await seed_runs(store, [PastRun(next(times), run_id="plain-1"), PastRun(next(times))])
    await seed_runs(store, [PastRun(next(times), e, run_id=r) for r, e in SEARCHABLE.items()])
    found = await rows(nc, names, search=search, page_size=1000)
    assert (sorted(keys(found)), found.total) == (sorted(expected), len(expected))


async def test_search_matches_type_status_and_error_text(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names
) -> None:
    times = starts(60, timedelta(hours=2))  # five days: counts and pages span several days
    failed = {i: {"group": f"Graph answered 503 #{i}"} for i in range(0, 60, 7)}
    await seed_runs(store, [PastRun(at, failed.get(i, {})) for i, at in enumerate(times)])
    await seed_runs(store, [PastRun(times[0] + timedelta(minutes=5), status="Running")])

    devices = await rows(nc, names, search="Device", page_size=50)
    assert devices.total == 61 and {r.object_type for r in devices.items} == {"device"}
    failures = await rows(nc, names, search="fail", page_size=1000)
    assert failures.total == len(failed) == len(failures.items)
    assert {r.status for r in failures.items} == {"Failed"}
    graph = await rows(nc, names, search="graph ANSWERED 503", page_size=100)
    assert graph.total == len(failed)
    groups = await rows(nc, names, search="gro", page_size=50)
    assert groups.total == 61 and {r.object_type for r in groups.items} == {"group"}
    running = await rows(nc, names, search="running")
    assert [r.status for r in running.items] == ["Running"] * 3
    second = await rows(nc, names, search="e", page=2, page_size=50)
    everything = await rows(nc, names, search="e", page_size=1000)
    # "e": user and device rows, and every Succeeded/Failed/Cancelled row: all but one row.
    assert everything.total == 182 and keys(second) == keys(everything)[50:100]


async def test_a_run_is_running_until_recorded_and_the_tenant_shows_its_last_sync(
    history: None, pipeline: Pipeline, nc: NatsClient, names: Names
) -> None:
    run = await Run(pipeline, "full").start()
    await run.send("user", [obj("u1", displayName="A")])

    async def running() -> Page[HistoryRow] | None:
        page = await rows(nc, names)
        return page if page.total == 3 else None

    page = await eventually(running, "the Running rows")
    assert {(r.status, r.mode, r.reason, r.finished_at) for r in page.items} == {
        ("Running", "full", "first", None)
    }
    status = await call(
        nc, names.api("history", "tenants.status"), TenantsStatusQuery(), TenantsSyncStatus
    )
    [tenant] = status.items
    assert (tenant.tenant_id, tenant.last_sync_status, tenant.last_run_id) == (
        TENANT,
        "Running",
        run.run_id,
    )
    await run.finish()
    page = await rows(nc, names)
    user = next(r for r in page.items if r.object_type == "user")
    assert (user.status, user.total, user.changed, user.finished_at is not None) == (
        "Succeeded",
        1,
        1,
        True,
    )
    status = await call(
        nc,
        names.api("history", "tenants.status"),
        TenantsStatusQuery(tenant_ids=(TENANT, OTHER)),
        TenantsSyncStatus,
    )
    assert [(t.tenant_id, t.last_sync_status) for t in status.items] == [(TENANT, "Succeeded")]
    assert status.items[0].last_sync_started_at == run.started_at.replace(
        microsecond=run.started_at.microsecond // 1000 * 1000
    )


async def test_a_newer_run_cancels_a_run_whose_finish_never_came(
    history: None, pipeline: Pipeline, nc: NatsClient, names: Names
) -> None:
    lost = await Run(pipeline, "delta").start()
    await lost.send("user", [obj("u1")])
    newer = await Run(pipeline, "delta").start()
    await newer.finish()
    page = await rows(nc, names, search="cancelled")
    assert {(r.run_id, r.status) for r in page.items} == {(lost.run_id, "Cancelled")}
    assert newer.run_id in (page.items[0].error or "")
    await lost.finish()  # it was alive after all: its record replaces the Cancelled
    page = await rows(nc, names, search="cancelled")
    assert page.total == 0


async def test_objects_are_listed_searched_fetched_and_counted(
    history: None, pipeline: Pipeline, nc: NatsClient, names: Names
) -> None:
    run = await Run(pipeline, "full").start()
    await run.send("user", [obj(f"u{i}", displayName=f"User {i}") for i in range(5)])
    await run.send("user", [obj("u.x", displayName="Dot (x+)", mail="dot@example.com")])
    await run.send("group", [obj("g1", ["u1", "u2"], displayName="G")])
    await run.finish()
    later = await Run(pipeline, "delta").start()
    await later.send("user", removals=[("u4", "changed"), ("u3", "deleted")])
    await later.finish()

    subject = names.api("history", "objects.list")
    users = await call(
        nc,
        subject,
        HistoryObjectsQuery(tenant_id=TENANT, object_type="user", page=2, page_size=2),
        Page[InventoryItem],
    )
    assert (users.total, [u.object_id for u in users.items]) == (6, ["u1", "u2"])
    live = await call(
        nc,
        subject,
        HistoryObjectsQuery(tenant_id=TENANT, object_type="user", include_deleted=False),
        Page[InventoryItem],
    )
    assert live.total == 4
    for text, expected in (("(X+)", ["u.x"]), (".", ["u.x"]), ("EXAMPLE.com", ["u.x"])):
        found = await call(
            nc,
            subject,
            HistoryObjectsQuery(tenant_id=TENANT, object_type="user", search=text),
            Page[InventoryItem],
        )
        assert [u.object_id for u in found.items] == expected
    group = await call(
        nc,
        names.api("history", "objects.get"),
        HistoryObjectQuery(tenant_id=TENANT, object_type="group", object_id="g1"),
        InventoryItem,
    )
    assert (group.members, group.attributes) == (("u1", "u2"), {"displayName": "G"})
    try:
        await call(
            nc,
            names.api("history", "objects.get"),
            HistoryObjectQuery(tenant_id=TENANT, object_type="user", object_id="nobody"),
            InventoryItem,
        )
    except ApiCallError as error:
        assert error.error.code == "not_found"
    else:
        raise AssertionError("an unknown object was found")
    counts = await call(
        nc,
        names.api("history", "objects.counts"),
        HistoryCountsQuery(tenant_id=TENANT),
        InventoryCounts,
    )
    assert [(t.object_type, t.live, t.soft_deleted, t.hard_deleted) for t in counts.types] == [
        ("user", 4, 1, 1),
        ("group", 1, 0, 0),
        ("device", 0, 0, 0),
    ]


async def test_the_service_answers_micro_discovery(
    history: None, nc: NatsClient, names: Names
) -> None:
    inbox = nc.new_inbox()
    replies = await nc.subscribe(inbox)
    await nc.publish("$SRV.INFO.entrasync-history", b"", reply=inbox)
    while True:
        info = json.loads((await replies.next_msg(timeout=5)).data)
        if info["metadata"].get("prefix") == names.prefix:
            break
    await replies.unsubscribe()
    assert info["name"] == "entrasync-history"


async def test_the_script_starts_and_answers_health(
    infra: LocalInfra, nc: NatsClient, names: Names, db_name: str
) -> None:
    script = Path(sys.executable).parent / "entrasync-history"
    env = {
        **os.environ,
        "ENTRASYNC_NATS_URL": infra.nats_url,
        "ENTRASYNC_MONGODB_URI": infra.mongodb_uri,
        "ENTRASYNC_PREFIX": names.prefix,
        "ENTRASYNC_HISTORY_DB": db_name,
    }
    process = await asyncio.create_subprocess_exec(script, env=env, stderr=subprocess.PIPE)
    try:

        async def healthy() -> Any:
            try:
                return await call(nc, names.api("history", "health"), None, Health, timeout=1.0)
            except ApiCallError:
                return None

        health = await eventually(healthy, "the history process to answer health", 30)
        assert health.ok and health.service == "history"
        # The API answers once the broker runs; "ready" follows once every consumer (one per
        # pipeline partition) is in place.
        assert process.stderr is not None
        seen = b""
        async with asyncio.timeout(30):
            while b"history ready" not in seen:
                line = await process.stderr.readline()
                assert line, seen.decode()[-2000:]
                seen += line
    finally:
        process.terminate()
        async with asyncio.timeout(15):
            _, rest = await process.communicate()
    assert process.returncode == 0, (seen + rest).decode()[-2000:]
