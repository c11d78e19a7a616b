"""Log in, the tenant table, and Add New Integration with Test Connection, in Chromium."""

from __future__ import annotations

from typing import Any

import httpx
from browser_helpers import Screenshots, until
from entrasync_devtools.stack import ConsoleAccess
from entrasync_sim.launcher import SimulatorProcess
from playwright.async_api import Locator, Page, expect


def toast(page: Page, text: str) -> Locator:
    return page.locator("#toasts .toast").filter(has_text=text)


async def test_logging_in(page: Page, ui_access: ConsoleAccess, screenshots: Screenshots) -> None:
    await page.goto("/integrations")
    await expect(page).to_have_url(f"{ui_access.url}/login?next=/integrations")
    heading = page.get_by_role("heading", name="Log in to the entrasync console")
    await expect(heading).to_be_visible()
    await screenshots.take(page, "login")
    await page.get_by_label("User name").fill(ui_access.admin_user)
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    await expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    await screenshots.take(page, "login-error")
    await page.get_by_label("Password").fill(ui_access.admin_password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{ui_access.url}/integrations")
    await expect(page.get_by_role("heading", name="Entra ID Sync", level=1)).to_be_visible()
    await expect(page.get_by_text(f"Signed in as {ui_access.admin_user}")).to_be_visible()
    await screenshots.take(page, "integrations")
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{ui_access.url}/login")
    await page.goto("/integrations")
    await expect(page).to_have_url(f"{ui_access.url}/login?next=/integrations")


async def test_adding_a_tenant_after_testing_its_connection(
    admin: Page,
    ui_sim: SimulatorProcess,
    good_profile: dict[str, Any],
    wrong_profile: dict[str, Any],
    rest: httpx.AsyncClient,
    ui_access: ConsoleAccess,
    screenshots: Screenshots,
) -> None:
    page = admin
    await page.get_by_role("link", name="Add New Integration").click()
    dialog = page.get_by_role("dialog", name="Add New Integration")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label("Type")).to_have_value("entra-id-sync")
    await expect(dialog.get_by_label("Type").locator("option:checked")).to_have_text(
        "Entra ID Sync"
    )
    await expect(dialog.get_by_label("Enabled")).to_be_checked()
    await screenshots.take(page, "add-new-integration")
    domain = ui_sim.tenants[0]["domain"]
    await dialog.get_by_label("Tenant", exact=True).fill(domain)
    await dialog.get_by_label("Azure Cloud").select_option("simlab")
    await dialog.get_by_label("Credential Profile").select_option(label=wrong_profile["name"])
    await dialog.get_by_role("button", name="Test Connection").click()
    failed = toast(page, "Connection failed")
    await expect(failed).to_be_visible(timeout=30_000)
    await expect(failed).to_have_class("toast error")
    await screenshots.take(page, "test-connection-failed")
    await dialog.get_by_label("Credential Profile").select_option(label=good_profile["name"])
    await dialog.get_by_role("button", name="Test Connection").click()
    succeeded = toast(page, "Connection successful")
    await expect(succeeded).to_be_visible(timeout=30_000)
    box = await succeeded.bounding_box()
    assert box is not None and box["x"] > 640 and box["y"] < 200  # the upper right corner
    await screenshots.take(page, "test-connection-succeeded")
    await dialog.get_by_role("button", name="Add").click()
    await expect(page).to_have_url(f"{ui_access.url}/integrations")
    await expect(toast(page, f"Added {domain}")).to_be_visible()
    row = page.locator("#tenant-table tbody tr").filter(has_text=domain)
    await expect(row.get_by_role("img", name="Enabled")).to_be_visible()
    await expect(row).to_contain_text(good_profile["name"])
    nav = page.get_by_role("navigation", name="Integrations navigation")
    await expect(nav.get_by_role("link", name=domain)).to_be_visible()
    await screenshots.take(page, "tenant-added")
    tenants = (await rest.get("/api/v1/tenants")).json()
    created = [t for t in tenants if t["tenant"] == domain]
    assert len(created) == 1 and created[0]["enabled"]

    async def synced() -> bool:
        await page.reload()
        return "Succeeded" in await row.inner_text()

    await until(synced, "the first sync in the tenant table")
    await screenshots.take(page, "tenant-synced")


async def test_errors_are_shown_next_to_their_field(
    admin: Page, good_profile: dict[str, Any], screenshots: Screenshots
) -> None:
    page = admin
    await page.get_by_role("link", name="Add New Integration").click()
    dialog = page.get_by_role("dialog", name="Add New Integration")
    await dialog.get_by_label("Tenant", exact=True).fill("not a tenant")
    await dialog.get_by_label("Credential Profile").select_option(label=good_profile["name"])
    await dialog.get_by_role("button", name="Add").click()
    dialog = page.get_by_role("dialog", name="Add New Integration")
    await expect(dialog).to_be_visible()
    tenant = dialog.get_by_label("Tenant", exact=True)
    await expect(tenant).to_have_attribute("aria-invalid", "true")
    await expect(tenant).to_have_value("not a tenant")
    await expect(page.locator("#tenant-error")).to_contain_text("DNS domain")
    await expect(tenant).to_be_focused()
    await screenshots.take(page, "add-field-error")
    await tenant.fill("")
    await dialog.get_by_role("button", name="Test Connection").click()
    await expect(page.locator("#tenant-error")).to_contain_text("Enter the tenant")
    # A form check is not a failed connection.
    await expect(toast(page, "Check the form: Tenant is missing")).to_be_visible()
    await expect(toast(page, "Connection failed")).to_have_count(0)


async def test_an_empty_form_names_every_missing_field_at_once(
    admin: Page, screenshots: Screenshots
) -> None:
    page = admin
    await page.get_by_role("link", name="Add New Integration").click()
    dialog = page.get_by_role("dialog", name="Add New Integration")
    await expect(dialog).to_contain_text("(e.g. contoso.onmicrosoft.com)")
    await dialog.get_by_role("button", name="Test Connection").click()
    await expect(toast(page, "Tenant and Credential Profile are missing")).to_be_visible()
    await expect(toast(page, "Connection failed")).to_have_count(0)
    await expect(page.locator("#tenant-error")).to_contain_text("Enter the tenant")
    await expect(page.locator("#profile_id-error")).to_contain_text("Select a credential profile")
    await dialog.get_by_role("button", name="Add").click()
    dialog = page.get_by_role("dialog", name="Add New Integration")
    for field, text in (("tenant", "Enter the tenant"), ("profile_id", "Select a credential")):
        await expect(page.locator(f"#{field}-error")).to_contain_text(text)
        await expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
    await screenshots.take(page, "add-empty-form")


async def test_the_console_is_usable_with_the_keyboard_alone(
    page: Page, ui_access: ConsoleAccess, screenshots: Screenshots
) -> None:
    await page.goto("/login")
    await expect(page.get_by_label("User name")).to_be_focused()
    await page.keyboard.type(ui_access.admin_user)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(ui_access.admin_password)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{ui_access.url}/integrations")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    for _ in range(6):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "add-new-integration":
            break
    await expect(page.get_by_role("link", name="Add New Integration")).to_be_focused()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Add New Integration")
    await expect(dialog).to_be_visible()
    inside = await page.evaluate(
        "document.querySelector('dialog').contains(document.activeElement)"
    )
    assert inside, "focus did not move into the dialog"
    for label in ("Type", "Azure Cloud", "Credential Profile", "Enabled"):
        await expect(dialog.get_by_label(label)).to_be_visible()
    await expect(dialog.get_by_label("Tenant", exact=True)).to_be_visible()
    await screenshots.take(page, "keyboard-add-window")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
