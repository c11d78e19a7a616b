"""The Sync History tab in Chromium: 50/100/1,000 rows per page, search, Export to CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from browser_helpers import SEEDED_RUNS, Screenshots
from playwright.async_api import Page, expect

ROWS = SEEDED_RUNS * 3
COLUMNS = [
    "Start Time",
    "End Time",
    "Type",
    "Total Objects",
    "Objects Changed",
    "Objects Deleted",
    "Objects Filtered",
    "Status",
]


async def test_history_pages_search_and_export(
    admin: Page, seeded_tenant: dict[str, Any], screenshots: Screenshots, tmp_path: Path
) -> None:
    page = admin
    await page.goto(f"/tenants/{seeded_tenant['id']}")
    await page.get_by_role("link", name="Sync History").click()
    rows = page.locator("#history-table tbody tr")
    info = page.locator("#page-info")
    await expect(page.locator("#history-table thead th")).to_have_text(COLUMNS)
    await expect(rows).to_have_count(50)
    await expect(page.get_by_label("Rows per page")).to_have_value("50")
    await expect(info).to_have_text(f"1–50 of {ROWS}")
    await screenshots.take(page, "sync-history")
    await page.get_by_role("link", name="Next page").click()
    await expect(info).to_have_text(f"51–100 of {ROWS}")
    await page.get_by_role("link", name="Last page").click()
    await expect(rows).to_have_count(ROWS - 100)
    await page.get_by_label("Rows per page").select_option("100")
    await expect(info).to_have_text(f"1–100 of {ROWS}")
    await expect(rows).to_have_count(100)
    await page.get_by_label("Rows per page").select_option("1000")
    await expect(rows).to_have_count(ROWS)
    await expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    await screenshots.take(page, "sync-history-1000")
    search = page.get_by_label("Search Sync History")
    await search.fill("throttled")
    await search.press("Enter")
    await expect(rows).to_have_count(SEEDED_RUNS // 10)
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
    assert exported[0][:8] == COLUMNS
    assert len(exported) == 1 + SEEDED_RUNS // 10
    assert all("throttled" in ",".join(row) for row in exported[1:])
