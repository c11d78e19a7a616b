"""The Sync History tab in Chromium: one line per run (expandable to its object types), the
Mode column, "Show only runs with changes or errors" (on by default, remembered), 50/100/1,000
rows per page, search (dates as shown, too), Export to CSV, and deleted tenants' kept history."""

from __future__ import annotations

import asyncio
import csv
import re
from pathlib import Path
from typing import Any

import httpx
from browser_helpers import CLOUD, SEEDED_RUNS, Screenshots, seed_history, unique, until
from entrasync_devtools.stack import ServiceStack
from playwright.async_api import Page, expect

ROWS = SEEDED_RUNS * 3
FAILED_RUNS = SEEDED_RUNS // 10
COLUMNS = [
    "Start Time",
    "End Time",
    "Type",
    "Total Objects",
    "Objects Changed",
    "Objects Deleted",
    "Objects Filtered",
    "Status",
    "Mode",
]


async def open_history(page: Page, tenant_id: str) -> None:
    await page.goto(f"/tenants/{tenant_id}")
    await page.get_by_role("link", name="Sync History").click()
    await expect(page.locator("#history-table")).to_be_visible()


async def test_only_runs_with_changes_or_errors_show_by_default_one_line_per_run(
    admin: Page, seeded_tenant: dict[str, Any], screenshots: Screenshots
) -> None:
    page = admin
    await open_history(page, seeded_tenant["id"])
    toggle = page.get_by_label("Show only runs with changes or errors")
    runs = page.locator("#history-table tr.run-line")
    await expect(page.locator("#history-table thead th")).to_have_text(COLUMNS)
    await expect(toggle).to_be_checked()
    # The seeded runs changed nothing; only the runs whose devices failed are shown.
    await expect(runs).to_have_count(FAILED_RUNS)
    await expect(page.locator("#page-info")).to_have_text(
        f"1–{3 * FAILED_RUNS} of {3 * FAILED_RUNS}"
    )
    first = runs.first
    await expect(first.locator("td").nth(2)).to_have_text("user, group, device")
    await expect(first.locator("td").nth(7)).to_contain_text("Failed")
    # Those runs were retried (their syncer died): the line says how often they started.
    await expect(first.locator("td").nth(7).locator(".attempts")).to_have_text("2 attempts")
    await expect(first.locator("td.mode")).to_have_text("delta (schedule)")
    type_rows = page.locator("#history-table tbody").first.locator("tr.type-row")
    await expect(type_rows).to_have_count(3)
    for n in range(3):
        await expect(type_rows.nth(n)).to_be_hidden()
    await screenshots.take(page, "sync-history-changes-only")

    expander = first.get_by_role("button", name=re.compile("Show the object types"))
    await expander.click()
    await expect(expander).to_have_attribute("aria-expanded", "true")
    for n, object_type in enumerate(("user", "group", "device")):
        await expect(type_rows.nth(n)).to_be_visible()
        await expect(type_rows.nth(n).locator("td").nth(2)).to_have_text(object_type)
        await expect(type_rows.nth(n).locator("td.mode")).to_have_text("delta (schedule)")
    await expect(type_rows.nth(2)).to_contain_text("throttled by Graph")
    await expect(type_rows.locator(".attempts")).to_have_text(["2 attempts"] * 3)
    await screenshots.take(page, "sync-history-run-expanded")
    await expander.click()
    await expect(type_rows.first).to_be_hidden()


async def test_the_changes_toggle_is_remembered_and_pages_search_and_export_work(
    admin: Page, seeded_tenant: dict[str, Any], screenshots: Screenshots, tmp_path: Path
) -> None:
    page = admin
    await open_history(page, seeded_tenant["id"])
    toggle = page.get_by_label("Show only runs with changes or errors")
    await toggle.uncheck()
    info = page.locator("#page-info")
    await expect(info).to_have_text(f"1–50 of {ROWS}")
    # Remembered: the tab opened again without any parameter still shows every run.
    await page.goto(f"/tenants/{seeded_tenant['id']}?tab=history")
    await expect(toggle).not_to_be_checked()
    await page.reload()
    await expect(toggle).not_to_be_checked()
    rows = page.locator("#history-table tr.type-row")
    await expect(rows).to_have_count(50)
    await expect(page.locator("#history-table tr.run-line")).to_have_count(17)  # 16⅔ runs
    await expect(page.get_by_label("Rows per page")).to_have_value("50")
    await expect(info).to_have_text(f"1–50 of {ROWS}")
    await screenshots.take(page, "sync-history")
    await page.get_by_role("link", name="Next page").click()
    await expect(info).to_have_text(f"51–100 of {ROWS}")
    await expect(toggle).not_to_be_checked()
    await page.get_by_role("link", name="Last page").click()
    await expect(rows).to_have_count(ROWS - 100)
    await page.get_by_label("Rows per page").select_option("100")
    await expect(info).to_have_text(f"1–100 of {ROWS}")
    await expect(rows).to_have_count(100)
    await page.get_by_label("Rows per page").select_option("1000")
    await expect(rows).to_have_count(ROWS)
    await expect(page.locator("#history-table tr.run-line")).to_have_count(SEEDED_RUNS)
    await expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    await screenshots.take(page, "sync-history-1000")
    search = page.get_by_label("Search Sync History")
    await search.fill("throttled")
    await search.press("Enter")
    await expect(rows).to_have_count(FAILED_RUNS)
    await expect(page.get_by_label("Rows per page")).to_have_value("1000")
    await screenshots.take(page, "sync-history-search")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Export to CSV").click()
    download = await download_info.value
    target = tmp_path / download.suggested_filename
    await download.save_as(target)
    assert target.name.startswith("sync-history-") and target.suffix == ".csv"
    with target.open(encoding="utf-8", newline="") as file:
        exported = list(csv.reader(file))
    assert exported[0][:10] == [*COLUMNS, "Reason"]
    assert len(exported) == 1 + FAILED_RUNS
    assert all("throttled" in ",".join(row) for row in exported[1:])
    # Ticked again, remembered again.
    await search.fill("")
    await toggle.check()
    await expect(info).to_have_text(f"1–{3 * FAILED_RUNS} of {3 * FAILED_RUNS}")
    await page.goto(f"/tenants/{seeded_tenant['id']}?tab=history")
    await expect(toggle).to_be_checked()


async def test_search_finds_a_run_by_its_start_time_as_shown(
    admin: Page, seeded_tenant: dict[str, Any], screenshots: Screenshots
) -> None:
    page = admin
    await open_history(page, seeded_tenant["id"])
    runs = page.locator("#history-table tr.run-line")
    start_cell = runs.first.locator("td").first
    shown = (await start_cell.inner_text()).strip()
    assert re.fullmatch(r"▸?\s*\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", shown), shown
    date_time = shown.lstrip("▸ ").strip()
    search = page.get_by_label("Search Sync History")
    await search.fill(date_time[:16])  # "2025-03-10 01:00": to the minute, as the table shows
    await search.press("Enter")
    await expect(runs).to_have_count(1)
    await expect(page.locator("#page-info")).to_have_text("1–3 of 3")
    await expect(runs.first.locator("td").first).to_contain_text(date_time)
    await screenshots.take(page, "sync-history-search-by-date")
    await search.fill(date_time)  # the whole cell, " UTC" included
    await search.press("Enter")
    await expect(runs).to_have_count(1)


async def test_a_deleted_tenants_history_stays_readable_and_exportable(
    admin: Page,
    rest: httpx.AsyncClient,
    ui_stack: ServiceStack,
    good_profile: dict[str, Any],
    screenshots: Screenshots,
    tmp_path: Path,
) -> None:
    body = {
        "tenant": f"gone{unique('x')[-6:]}.example.com",
        "cloud": CLOUD,
        "profile_id": good_profile["id"],
        "enabled": False,
        "name": unique("Soon deleted"),
    }
    tenant = (await rest.post("/api/v1/tenants", json=body)).json()
    await asyncio.to_thread(seed_history, ui_stack.nats_url, ui_stack.names, tenant["id"], 10)

    async def seeded() -> bool:
        page = await rest.get(f"/api/v1/tenants/{tenant['id']}/history")
        return bool(page.json()["total"] == 30)

    await until(seeded, "the seeded history")
    page = admin
    await page.goto(f"/tenants/{tenant['id']}")
    await page.get_by_role("button", name="Delete").first.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.locator("#delete-keeps")).to_be_visible()
    await expect(dialog.locator("#delete-keeps")).to_contain_text("Kept:")
    await expect(dialog.locator("#delete-keeps")).to_contain_text("Deleted tenants")
    await screenshots.take(page, "delete-tenant-keeps-history")
    erase = dialog.get_by_label("Also erase its synced objects and Sync History")
    await erase.check()
    await expect(dialog.locator("#delete-erases")).to_be_visible()
    await expect(dialog.locator("#delete-keeps")).to_be_hidden()
    await erase.uncheck()
    await expect(dialog.locator("#delete-keeps")).to_be_visible()
    await dialog.get_by_role("button", name="Delete").click()
    await page.wait_for_url("**/integrations")

    async def listed() -> bool:
        found = (await rest.get("/api/v1/deleted-tenants")).json()["items"]
        return any(item["tenant_id"] == tenant["id"] for item in found)

    await until(listed, "the deleted tenant in the list")
    # Its old address leads to the kept history.
    await page.goto(f"/tenants/{tenant['id']}?tab=history")
    await page.wait_for_url(f"**/deleted-tenants/{tenant['id']}")
    await page.goto("/integrations")
    await page.get_by_role("link", name="Deleted tenants").click()
    await page.get_by_role("link", name=tenant["name"]).click()
    await expect(page.locator("h1")).to_contain_text(tenant["name"])
    await expect(page.locator("h1")).to_contain_text("Deleted")
    runs = page.locator("#history-table tr.run-line")
    await expect(runs).to_have_count(1)  # the run whose devices failed
    await page.get_by_label("Show only runs with changes or errors").uncheck()
    await expect(runs).to_have_count(10)
    await expect(page.get_by_role("button", name="Sync now")).to_have_count(0)
    await screenshots.take(page, "deleted-tenant-history")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Export to CSV").click()
    download = await download_info.value
    target = tmp_path / download.suggested_filename
    await download.save_as(target)
    with target.open(encoding="utf-8", newline="") as file:
        exported = list(csv.reader(file))
    assert exported[0][:9] == COLUMNS and len(exported) == 1 + 30
