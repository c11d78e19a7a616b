"""Tenant details in Chromium: Tenant Configuration (Save only after a change, full scan, the
object types to sync), Sync now with live status, and Delete behind a confirmation window."""

from __future__ import annotations

import re
from typing import Any

import httpx
from browser_helpers import CLOUD, Screenshots, unique, until
from entrasync_devtools.stack import ConsoleAccess
from playwright.async_api import Page, expect


async def new_tenant(
    api: httpx.AsyncClient, profile: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {
        "tenant": f"t{unique('x')[-6:]}.example.com",
        "cloud": CLOUD,
        "profile_id": profile["id"],
        "enabled": False,
        **fields,
    }
    created = await api.post("/api/v1/tenants", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def test_save_is_enabled_only_by_a_change_and_saves_it(
    admin: Page,
    rest: httpx.AsyncClient,
    good_profile: dict[str, Any],
    wrong_profile: dict[str, Any],
    screenshots: Screenshots,
) -> None:
    tenant = await new_tenant(rest, good_profile, name=unique("Edit me"))
    page = admin
    await page.reload()  # the navigation pane lists the new tenant
    nav = page.get_by_role("navigation", name="Integrations navigation")
    await nav.get_by_role("link", name=tenant["name"]).click()
    await expect(page.get_by_role("heading", name=tenant["name"], level=1)).to_be_visible()
    save = page.get_by_role("button", name="Save")
    await expect(save).to_be_disabled()
    await expect(page.get_by_label("Tenant", exact=True)).to_have_attribute("readonly", "")
    await expect(page.get_by_label("Azure Cloud")).to_have_attribute("readonly", "")
    await screenshots.take(page, "tenant-configuration")
    profile = page.get_by_label("Credential Profile")
    await profile.select_option(label=wrong_profile["name"])
    await expect(save).to_be_enabled()
    await profile.select_option(label=good_profile["name"])
    await expect(save).to_be_disabled()
    enabled = page.get_by_label("Enabled")
    await expect(enabled).not_to_be_checked()
    await enabled.check()
    await expect(save).to_be_enabled()
    await screenshots.take(page, "tenant-configuration-changed")
    await save.click()
    await expect(page.locator("#toasts .toast").filter(has_text="Saved")).to_be_visible()
    await expect(page.get_by_label("Enabled")).to_be_checked()
    await expect(page.get_by_role("button", name="Save")).to_be_disabled()
    assert (await rest.get(f"/api/v1/tenants/{tenant['id']}")).json()["enabled"] is True


async def test_the_full_scan_checkbox_sets_the_flag(
    admin: Page, rest: httpx.AsyncClient, good_profile: dict[str, Any], screenshots: Screenshots
) -> None:
    tenant = await new_tenant(rest, good_profile)
    cleared = await rest.patch(
        f"/api/v1/tenants/{tenant['id']}",
        json={"version": tenant["version"], "full_scan_next": False},
    )
    assert cleared.json()["full_scan_next"] is False
    page = admin
    await page.goto(f"/tenants/{tenant['id']}")
    full_scan = page.get_by_label("Perform a full scan on next run")
    await expect(full_scan).not_to_be_checked()
    await full_scan.check()
    await screenshots.take(page, "full-scan-checked")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#toasts .toast").filter(has_text="Saved")).to_be_visible()
    await expect(page.get_by_label("Perform a full scan on next run")).to_be_checked()
    assert (await rest.get(f"/api/v1/tenants/{tenant['id']}")).json()["full_scan_next"] is True


async def test_ticking_service_principals_stores_them_and_no_type_at_all_is_refused(
    admin: Page, rest: httpx.AsyncClient, good_profile: dict[str, Any], screenshots: Screenshots
) -> None:
    tenant = await new_tenant(rest, good_profile)
    page = admin
    await page.goto(f"/tenants/{tenant['id']}")
    types = page.get_by_role("group", name="Object types to sync")
    for label in ("Users", "Groups", "Devices"):
        await expect(types.get_by_label(label, exact=True)).to_be_checked()
    principals = types.get_by_label("Service principals", exact=True)
    await expect(principals).not_to_be_checked()
    await expect(principals).to_have_accessible_description(re.compile("Application.Read.All"))
    await principals.check()
    await screenshots.take(page, "object-types")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#toasts .toast").filter(has_text="Saved")).to_be_visible()
    await expect(page.get_by_label("Service principals", exact=True)).to_be_checked()
    stored = (await rest.get(f"/api/v1/tenants/{tenant['id']}")).json()
    assert stored["object_types"] == ["user", "group", "device", "servicePrincipal"]

    types = page.get_by_role("group", name="Object types to sync")
    for label in ("Users", "Groups", "Devices", "Service principals"):
        await types.get_by_label(label, exact=True).uncheck()
    await page.get_by_role("button", name="Save").click()
    error = page.locator("#object_types-error")
    await expect(error).to_have_text("at least one object type is required")
    await expect(page.get_by_role("group", name="Object types to sync")).to_have_attribute(
        "aria-invalid", "true"
    )
    await screenshots.take(page, "object-types-none")
    again = (await rest.get(f"/api/v1/tenants/{tenant['id']}")).json()
    assert again["object_types"] == stored["object_types"]


async def test_test_connection_tests_the_ticked_types_saved_or_not(
    admin: Page, rest: httpx.AsyncClient, good_profile: dict[str, Any]
) -> None:
    tenant = await new_tenant(rest, good_profile)
    page = admin
    await page.goto(f"/tenants/{tenant['id']}")
    types = page.get_by_role("group", name="Object types to sync")
    await types.get_by_label("Directory roles", exact=True).check()
    test = page.get_by_role("button", name="Test Connection")
    async with page.expect_request("**/api/v1/tenants/test-connection") as sent:
        await test.click()
    body = (await sent.value).post_data_json
    assert body["object_types"] == ["user", "group", "device", "directoryRole"]
    await expect(page.locator("#toasts .toast").filter(has_text="Connection")).to_be_visible()

    for label in ("Users", "Groups", "Devices", "Directory roles"):
        await types.get_by_label(label, exact=True).uncheck()
    await test.click()
    error = page.locator("#object_types-error")
    await expect(error).to_have_text("at least one object type is required")
    await expect(types).to_have_attribute("aria-invalid", "true")


async def test_sync_now_shows_the_run_live(
    admin: Page, rest: httpx.AsyncClient, good_profile: dict[str, Any], screenshots: Screenshots
) -> None:
    tenant = await new_tenant(rest, good_profile, enabled=True, interval_seconds=3600)

    async def first_run() -> dict[str, Any] | None:
        last = (await rest.get(f"/api/v1/tenants/{tenant['id']}/status")).json()["last_sync"]
        return last if last and last["last_sync_status"] != "Running" else None

    before = (await until(first_run, "the first run"))["last_run_id"]
    page = admin
    await page.goto(f"/tenants/{tenant['id']}")
    status = page.locator("#live-status")
    await expect(status).to_contain_text("Last sync")
    await page.get_by_role("button", name="Sync now").click()
    await expect(page.locator("#toasts .toast").filter(has_text="Sync")).to_be_visible()
    await screenshots.take(page, "sync-now")

    async def newer_run() -> bool:
        last = (await rest.get(f"/api/v1/tenants/{tenant['id']}/status")).json()["last_sync"]
        return last["last_run_id"] != before and last["last_sync_status"] != "Running"

    await until(newer_run, "the manual run")
    # The page polls the status API: its line shows the new run without a reload.
    recorded = (await rest.get(f"/api/v1/tenants/{tenant['id']}/status")).json()["last_sync"]
    started = recorded["last_sync_started_at"][:19].replace("T", " ")
    await expect(status).to_contain_text(started, timeout=20_000)
    await screenshots.take(page, "sync-now-done")


async def test_deleting_asks_for_confirmation(
    admin: Page,
    rest: httpx.AsyncClient,
    good_profile: dict[str, Any],
    ui_access: ConsoleAccess,
    screenshots: Screenshots,
) -> None:
    tenant = await new_tenant(rest, good_profile, name=unique("Delete me"))
    page = admin
    await page.goto(f"/tenants/{tenant['id']}")
    await page.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete Tenant")
    await expect(confirm).to_be_visible()
    await expect(confirm).to_contain_text(tenant["name"])
    await screenshots.take(page, "delete-confirmation")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_be_hidden()
    assert (await rest.get(f"/api/v1/tenants/{tenant['id']}")).status_code == 200
    await page.get_by_role("button", name="Delete").click()
    await confirm.get_by_role("button", name="Delete").click()
    await expect(page).to_have_url(f"{ui_access.url}/integrations")
    deleted = page.locator("#toasts .toast").filter(has_text=f"Deleted {tenant['name']}")
    await expect(deleted).to_be_visible()
    await expect(page.locator("#tenant-table")).not_to_contain_text(tenant["name"])
    await screenshots.take(page, "deleted")
    assert (await rest.get(f"/api/v1/tenants/{tenant['id']}")).status_code == 404
