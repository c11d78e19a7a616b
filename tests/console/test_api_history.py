"""Sync History over the API: pages of 50/100/1000 rows, search, the CSV export, the
"changes or errors" filter and the kept history of deleted tenants."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import httpx
from console_helpers import CLOUD, SEEDED_RUNS, eventually, seed_history, unique
from entrasync_devtools.history_seed import RETRIED
from entrasync_devtools.stack import ServiceStack

ROWS = SEEDED_RUNS * 3


def make_seeded(
    api: httpx.Client, stack: ServiceStack, profile: dict[str, Any], runs: int
) -> dict[str, Any]:
    """A disabled tenant with `runs` seeded runs (three rows each) in its Sync History."""
    body = {
        "tenant": f"kept{unique('x')[-8:]}.example.com",
        "cloud": CLOUD,
        "profile_id": profile["id"],
        "enabled": False,
        "name": unique("Kept"),
    }
    created = api.post("/api/v1/tenants", json=body)
    assert created.status_code == 201, created.text
    tenant = dict(created.json())
    seed_history(stack.nats_url, stack.names, tenant["id"], runs)

    def all_rows() -> bool:
        return history(api, tenant).json()["total"] == runs * 3

    eventually(all_rows, "the seeded runs' history rows")
    return tenant


def history(api: httpx.Client, tenant: dict[str, Any], **params: Any) -> httpx.Response:
    return api.get(f"/api/v1/tenants/{tenant['id']}/history", params=params)


def test_history_pages_hold_50_by_default_or_100_or_1000_rows(
    api: httpx.Client, seeded_tenant: dict[str, Any]
) -> None:
    first = history(api, seeded_tenant).json()
    assert (first["total"], first["page"], first["page_size"]) == (ROWS, 1, 50)
    assert len(first["items"]) == 50
    last = history(api, seeded_tenant, page=3).json()
    assert len(last["items"]) == ROWS - 100
    assert len(history(api, seeded_tenant, page_size=100).json()["items"]) == 100
    assert len(history(api, seeded_tenant, page_size=1000).json()["items"]) == ROWS
    beyond = history(api, seeded_tenant, page=9).json()
    assert beyond["items"] == [] and beyond["total"] == ROWS


def test_history_is_newest_first_with_the_seed_pages_columns(
    api: httpx.Client, seeded_tenant: dict[str, Any]
) -> None:
    rows = history(api, seeded_tenant, page_size=1000).json()["items"]
    starts = [row["started_at"] for row in rows]
    assert starts == sorted(starts, reverse=True)
    newest = rows[0]
    assert newest["finished_at"] > newest["started_at"]
    for column in ("started_at", "finished_at", "object_type", "total", "changed", "deleted"):
        assert column in newest
    assert {"filtered", "status"} <= set(newest)


def test_history_search_keeps_matching_rows(
    api: httpx.Client, seeded_tenant: dict[str, Any]
) -> None:
    throttled = history(api, seeded_tenant, search="throttled", page_size=100).json()
    assert throttled["total"] == SEEDED_RUNS // 10
    assert all(row["status"] == "Failed" for row in throttled["items"])
    devices = history(api, seeded_tenant, search="DEVICE").json()
    assert devices["total"] == SEEDED_RUNS
    nothing = history(api, seeded_tenant, search="no such text").json()
    assert nothing == {"items": [], "total": 0, "page": 1, "page_size": 50}


def test_history_refuses_other_page_sizes_and_control_characters(
    api: httpx.Client, seeded_tenant: dict[str, Any]
) -> None:
    for params, field in [
        ({"page_size": 20}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"search": "a\nb"}, "search"),
        ({"search": "x" * 201}, "search"),
    ]:
        refused = history(api, seeded_tenant, **params)
        assert refused.status_code == 422, params
        assert refused.json()["field"] == field
    missing = api.get("/api/v1/tenants/0123456789abcdef/history")
    assert missing.status_code == 404


def test_the_csv_export_holds_every_matching_row(
    api: httpx.Client, seeded_tenant: dict[str, Any]
) -> None:
    exported = api.get(f"/api/v1/tenants/{seeded_tenant['id']}/history.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].startswith("attachment; filename=")
    rows = list(csv.reader(io.StringIO(exported.text)))
    header, body = rows[0], rows[1:]
    assert header[:8] == [
        "Start Time",
        "End Time",
        "Type",
        "Total Objects",
        "Objects Changed",
        "Objects Deleted",
        "Objects Filtered",
        "Status",
    ]
    assert len(body) == ROWS
    searched = api.get(
        f"/api/v1/tenants/{seeded_tenant['id']}/history.csv", params={"search": "throttled"}
    )
    assert len(list(csv.reader(io.StringIO(searched.text)))) == 1 + SEEDED_RUNS // 10
    refused = api.get(
        f"/api/v1/tenants/{seeded_tenant['id']}/history.csv", params={"search": "\x07"}
    )
    assert refused.status_code == 422 and refused.json()["field"] == "search"


def test_a_retried_run_shows_its_first_start_its_last_end_and_its_attempts(
    api: httpx.Client, seeded_tenant: dict[str, Any]
) -> None:
    """Every tenth seeded run was retried: its second attempt started 20 s in."""
    rows = history(api, seeded_tenant, page_size=1000).json()["items"]
    retried = [row for row in rows if row["attempts"] == RETRIED]
    assert len(retried) == 3 * (SEEDED_RUNS // 10)
    assert {row["attempts"] for row in rows} == {1, RETRIED}
    for row in retried:
        # From the first attempt's start (the second's was 10 s before the end) to the end.
        took = datetime.fromisoformat(row["finished_at"]) - datetime.fromisoformat(
            row["started_at"]
        )
        assert took == timedelta(seconds=30)
    exported = api.get(f"/api/v1/tenants/{seeded_tenant['id']}/history.csv")
    header, *body = list(csv.reader(io.StringIO(exported.text)))
    assert header[-1] == "Attempts"
    assert sorted(line[-1] for line in body) == sorted(str(row["attempts"]) for row in rows)


def test_changes_only_keeps_the_runs_with_changes_or_errors(
    api: httpx.Client, seeded_tenant: dict[str, Any]
) -> None:
    # The seeded runs changed nothing; every tenth run's devices failed.
    everything = history(api, seeded_tenant, page_size=1000).json()
    assert everything["total"] == ROWS
    kept = history(api, seeded_tenant, page_size=1000, changes_only="true").json()
    failed_runs = {row["run_id"] for row in everything["items"] if row["status"] == "Failed"}
    assert kept["total"] == 3 * len(failed_runs) == 3 * (SEEDED_RUNS // 10)
    assert {row["run_id"] for row in kept["items"]} == failed_runs
    assert {row["mode"] + "/" + row["reason"] for row in kept["items"]} == {"delta/schedule"}
    exported = api.get(
        f"/api/v1/tenants/{seeded_tenant['id']}/history.csv", params={"changes_only": "true"}
    )
    csv_rows = list(csv.reader(io.StringIO(exported.text)))
    assert csv_rows[0][8:10] == ["Mode", "Reason"]
    assert len(csv_rows) == 1 + kept["total"]
    assert {tuple(row[8:10]) for row in csv_rows[1:]} == {("delta", "schedule")}


def test_history_search_finds_dates_as_shown_and_numbers(
    api: httpx.Client, seeded_tenant: dict[str, Any]
) -> None:
    rows = history(api, seeded_tenant, page_size=1000).json()["items"]
    newest = rows[0]
    # The console shows "2025-03-10 01:00:00 UTC": a run's minute finds its three rows.
    minute = newest["started_at"][:16].replace("T", " ")
    found = history(api, seeded_tenant, search=minute).json()
    assert found["total"] == 3
    assert {row["run_id"] for row in found["items"]} == {newest["run_id"]}
    day = minute[:10]
    same_day = [row for row in rows if row["started_at"].startswith(day)]
    assert history(api, seeded_tenant, search=day, page_size=1000).json()["total"] == len(same_day)
    # Totals are the run number (1..40): "7" is run 7's three rows.
    seven = history(api, seeded_tenant, search="7").json()
    assert seven["total"] == 3 and {row["total"] for row in seven["items"]} == {7}


def test_a_deleted_tenants_kept_history_stays_readable_and_exportable(
    api: httpx.Client, console_stack: ServiceStack, sim_profile: dict[str, Any]
) -> None:
    kept, erased = (make_seeded(api, console_stack, sim_profile, runs=2) for _ in range(2))
    assert api.delete(f"/api/v1/tenants/{kept['id']}").status_code == 204
    purge = api.delete(f"/api/v1/tenants/{erased['id']}", params={"purge_history": "true"})
    assert purge.status_code == 204
    assert history(api, kept).status_code == 404

    def listed() -> list[dict[str, Any]] | None:
        items = api.get("/api/v1/deleted-tenants").json()["items"]
        return [item for item in items if item["tenant_id"] == kept["id"]] or None

    (item,) = eventually(listed, "the deleted tenant in the list")
    moved = history(api, kept)
    assert moved.status_code == 404
    assert f"/api/v1/deleted-tenants/{kept['id']}/history" in moved.json()["message"]
    assert (item["name"], item["tenant"], item["cloud"]) == (kept["name"], kept["tenant"], CLOUD)
    page = api.get(f"/api/v1/deleted-tenants/{kept['id']}/history").json()
    assert page["total"] == 6 and {row["tenant_id"] for row in page["items"]} == {kept["id"]}
    exported = api.get(f"/api/v1/deleted-tenants/{kept['id']}/history.csv")
    assert exported.status_code == 200
    assert len(list(csv.reader(io.StringIO(exported.text)))) == 1 + 6
    assert kept["tenant"] in exported.headers["content-disposition"]

    def gone() -> bool:
        answer = api.get(f"/api/v1/deleted-tenants/{erased['id']}/history")
        return answer.status_code == 404

    eventually(gone, "the purged tenant to have no kept history")
    ids = {item["tenant_id"] for item in api.get("/api/v1/deleted-tenants").json()["items"]}
    assert erased["id"] not in ids
    assert api.get("/api/v1/deleted-tenants/0123456789abcdef/history").status_code == 404
