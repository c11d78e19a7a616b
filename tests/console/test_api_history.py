"""Sync History over the API: pages of 50/100/1000 rows, search, and the CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from console_helpers import SEEDED_RUNS

ROWS = SEEDED_RUNS * 3


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
