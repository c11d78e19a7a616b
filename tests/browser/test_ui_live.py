"""Open pages stay current in Chromium: the tenant list, the navigation pane, the status line
and the Tenant Configuration form follow what is stored, without a reload; edits made while the
settings changed underneath are kept, shown against what changed, and saved in one click."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from browser_helpers import CLOUD, Screenshots, seed_history, unique, until
from entrasync_devtools.stack import ServiceStack
from playwright.async_api import Page, expect

LIVE_WAIT = 20_000  # ms: the page re-reads itself every 5 s
FULL_SCAN = "Perform a full scan on next run"


async def new_tenant(api: httpx.AsyncClient, profile: dict[str, Any], **fields: Any) -> dict:
    body = {
        "tenant": f"live{unique('x')[-6:]}.example.com",
        "cloud": CLOUD,
        "profile_id": profile["id"],
        "enabled": False,
        **fields,
    }
    created = await api.post("/api/v1/tenants", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def patch(api: httpx.AsyncClient, tenant_id: str, **fields: Any) -> dict[str, Any]:
    current = (await api.get(f"/api/v1/tenants/{tenant_id}")).json()
    changed = await api.patch(
        f"/api/v1/tenants/{tenant_id}", json={"version": current["version"], **fields}
    )
    assert changed.status_code == 200, changed.text
    return dict(changed.json())


async def mark_page(page: Page) -> None:
    """A flag a reload would lose: proves that what changed came without one."""
    await page.evaluate("window.notReloaded = true")


async def not_reloaded(page: Page) -> bool:
    return bool(await page.evaluate("window.notReloaded === true"))


async def test_the_tenant_list_and_navigation_follow_the_stored_tenants(
    admin: Page, rest: httpx.AsyncClient, good_profile: dict[str, Any], screenshots: Screenshots
) -> None:
    page = admin
    await mark_page(page)
    tenant = await new_tenant(rest, good_profile, name=unique("Arrives live"))
    row = page.locator("#tenant-table tbody tr").filter(has_text=tenant["name"])
    await expect(row).to_be_visible(timeout=LIVE_WAIT)
    nav = page.get_by_role("navigation", name="Integrations navigation")
    await expect(nav.get_by_role("link", name=tenant["name"])).to_be_visible()
    await expect(row.get_by_role("img", name="Disabled")).to_be_visible()
    await patch(rest, tenant["id"], enabled=True, interval_seconds=3600)
    await expect(row.get_by_role("img", name="Enabled")).to_be_visible(timeout=LIVE_WAIT)
    # Its first run (scheduled, not started from this page) shows up in Last Sync Status.
    await expect(row).not_to_contain_text("Never synced", timeout=60_000)
    assert await not_reloaded(page)
    await screenshots.take(page, "live-tenant-list")


async def test_an_unchanged_page_is_answered_304_by_its_etag(admin: Page) -> None:
    live = {"x-live-refresh": "1"}
    first = await admin.request.get("/integrations", headers=live)
    etag = first.headers["etag"]
    again = await admin.request.get("/integrations", headers={**live, "if-none-match": etag})
    assert again.status == 304
    assert (await admin.request.get("/integrations", headers=live)).headers["etag"] == etag


async def test_the_configuration_tab_follows_the_first_sync_and_saves_after_it(
    admin: Page, rest: httpx.AsyncClient, good_profile: dict[str, Any], screenshots: Screenshots
) -> None:
    tenant = await new_tenant(rest, good_profile)
    page = admin
    await page.goto(f"/tenants/{tenant['id']}")
    await mark_page(page)
    full_scan = page.get_by_label(FULL_SCAN)
    await expect(full_scan).to_be_checked()
    await patch(rest, tenant["id"], full_scan_next=False)  # what the first sync does
    await expect(full_scan).not_to_be_checked(timeout=LIVE_WAIT)
    assert await not_reloaded(page)
    await screenshots.take(page, "live-full-scan-cleared")
    await page.get_by_label("Enabled").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#toasts .toast").filter(has_text="Saved")).to_be_visible()
    stored = (await rest.get(f"/api/v1/tenants/{tenant['id']}")).json()
    assert stored["enabled"] is True and stored["full_scan_next"] is False


async def test_the_status_line_follows_a_run_nobody_started_here(
    admin: Page, rest: httpx.AsyncClient, good_profile: dict[str, Any]
) -> None:
    tenant = await new_tenant(rest, good_profile, enabled=True, interval_seconds=3600)
    page = admin
    await page.goto(f"/tenants/{tenant['id']}")
    status = page.locator("#live-status")

    async def finished() -> dict[str, Any] | None:
        last = (await rest.get(f"/api/v1/tenants/{tenant['id']}/status")).json()["last_sync"]
        return last if last and last["last_sync_status"] != "Running" else None

    recorded = await until(finished, "the tenant's first run")
    started = recorded["last_sync_started_at"][:19].replace("T", " ")
    await expect(status).to_contain_text(started, timeout=LIVE_WAIT)
    await expect(status).to_contain_text(recorded["last_sync_status"])


async def test_edits_survive_a_change_underneath_and_go_on_top_in_one_click(
    admin: Page, rest: httpx.AsyncClient, good_profile: dict[str, Any], screenshots: Screenshots
) -> None:
    tenant = await new_tenant(rest, good_profile)
    page = admin
    await page.goto(f"/tenants/{tenant['id']}")
    await page.get_by_label("Enabled").check()  # an unsaved edit
    await patch(rest, tenant["id"], full_scan_next=False)
    notice = page.locator(".stale-notice")
    await expect(notice).to_be_visible(timeout=LIVE_WAIT)
    await expect(notice).to_contain_text(f"{FULL_SCAN}: on → off")
    await expect(page.get_by_label("Enabled")).to_be_checked()  # the edit is still there
    await expect(page.get_by_label(FULL_SCAN)).not_to_be_checked()  # under it, what is stored
    await screenshots.take(page, "live-changed-underneath")
    await notice.get_by_role("button", name="Apply my edits on top").click()
    await expect(page.locator("#toasts .toast").filter(has_text="Saved")).to_be_visible()
    stored = (await rest.get(f"/api/v1/tenants/{tenant['id']}")).json()
    assert stored["enabled"] is True and stored["full_scan_next"] is False


async def test_a_conflicting_save_names_the_changes_and_applies_the_edits_on_top(
    admin: Page, rest: httpx.AsyncClient, good_profile: dict[str, Any], screenshots: Screenshots
) -> None:
    tenant = await new_tenant(rest, good_profile)
    page = admin
    await page.clock.install()  # the page's timers stand still: no refresh before Save
    await page.goto(f"/tenants/{tenant['id']}")
    await page.get_by_label("Enabled").check()
    await patch(rest, tenant["id"], full_scan_next=False)
    await page.get_by_role("button", name="Save").click()
    conflict = page.locator("#conflict")
    await expect(conflict).to_be_visible()
    await expect(conflict).to_contain_text(f"{FULL_SCAN}: on → off")
    await expect(conflict).to_contain_text("Enabled: Disabled → Enabled")
    await expect(conflict).not_to_contain_text("version")  # no developer words
    await expect(page.get_by_label(FULL_SCAN)).not_to_be_checked()  # what is stored now
    await expect(page.get_by_label("Enabled")).to_be_checked()  # the user's edit on top
    await screenshots.take(page, "conflict")
    await conflict.get_by_role("button", name="Apply my edits on top").click()
    await expect(page.locator("#toasts .toast").filter(has_text="Saved")).to_be_visible()
    stored = (await rest.get(f"/api/v1/tenants/{tenant['id']}")).json()
    assert stored["enabled"] is True and stored["full_scan_next"] is False


async def test_the_sync_history_shows_new_runs_and_keeps_expanded_ones_open(
    admin: Page,
    rest: httpx.AsyncClient,
    good_profile: dict[str, Any],
    ui_stack: ServiceStack,
    screenshots: Screenshots,
) -> None:
    tenant = await new_tenant(rest, good_profile)
    page = admin
    await page.goto(f"/tenants/{tenant['id']}?tab=history&changes=0")
    await mark_page(page)
    runs = page.locator("#history-table tbody.run")
    await expect(runs).to_have_count(0)

    async def seed(count: int) -> None:
        names = ui_stack.names
        await asyncio.to_thread(seed_history, ui_stack.nats_url, names, tenant["id"], count)

    await seed(1)
    await expect(runs).to_have_count(1, timeout=LIVE_WAIT)
    await runs.first.locator("[data-expand-run]").click()
    await expect(runs.first.locator("tr.type-row").first).to_be_visible()
    await seed(1)
    await expect(runs).to_have_count(2, timeout=LIVE_WAIT)
    expanded = page.locator('#history-table [data-expand-run][aria-expanded="true"]')
    await expect(expanded).to_have_count(1)
    await expect(page.locator("#page-info")).to_contain_text("of 6")
    assert await not_reloaded(page)
    await screenshots.take(page, "live-sync-history")


async def test_a_tenant_deleted_elsewhere_is_reported_on_its_open_page(
    admin: Page, rest: httpx.AsyncClient, good_profile: dict[str, Any]
) -> None:
    tenant = await new_tenant(rest, good_profile)
    page = admin
    await page.goto(f"/tenants/{tenant['id']}")
    deleted = await rest.delete(
        f"/api/v1/tenants/{tenant['id']}", params={"version": tenant["version"]}
    )
    assert deleted.status_code == 204, deleted.text
    gone = page.locator("#toasts .toast").filter(has_text="deleted elsewhere")
    await expect(gone).to_be_visible(timeout=LIVE_WAIT)
