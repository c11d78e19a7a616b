"""The Credential Profiles page in Chromium: add (errors by the field), expiry warnings, edit
with a write-only secret."""

from __future__ import annotations

from browser_helpers import Screenshots, unique
from entrasync_devtools.stack import ConsoleAccess
from playwright.async_api import Page, expect


async def test_adding_and_editing_a_credential_profile(
    admin: Page, ui_access: ConsoleAccess, screenshots: Screenshots
) -> None:
    page = admin
    await page.get_by_role("link", name="Credential Profiles").click()
    await page.get_by_role("link", name="Add Credential Profile").click()
    dialog = page.get_by_role("dialog", name="Add Credential Profile")
    name = unique("Expiring app")
    await dialog.get_by_label("Name").fill(name)
    await dialog.get_by_label("Client ID").fill("not-a-guid")
    await dialog.get_by_label("Client secret").fill("s3cret")
    await dialog.get_by_role("button", name="Add").click()
    dialog = page.get_by_role("dialog", name="Add Credential Profile")
    await expect(dialog.get_by_label("Client ID")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#client_id-error")).to_contain_text("GUID")
    await expect(dialog.get_by_label("Client secret")).to_have_value("")  # never echoed back
    await screenshots.take(page, "profile-field-error")
    await dialog.get_by_label("Client ID").fill("0a1b2c3d-1111-4222-8333-444455556666")
    await dialog.get_by_label("Client secret").fill("s3cret")
    await dialog.get_by_label("Secret expires on").fill("2001-01-01")
    await dialog.get_by_role("button", name="Add").click()
    await expect(page).to_have_url(f"{ui_access.url}/credential-profiles")
    row = page.locator("#profile-table tbody tr").filter(has_text=name)
    await expect(row).to_contain_text("Expired")
    await screenshots.take(page, "credential-profiles")
    await row.get_by_role("link", name=name).click()
    await expect(page.get_by_label("Client secret")).to_have_value("")
    save = page.get_by_role("button", name="Save")
    await expect(save).to_be_disabled()
    await page.get_by_label("Secret expires on").fill("2099-06-30")
    await expect(save).to_be_enabled()
    await screenshots.take(page, "profile-edit")
    await save.click()
    await expect(page.locator("#toasts .toast").filter(has_text="Saved")).to_be_visible()
    await expect(page.locator("main")).not_to_contain_text("Expired")
    assert "s3cret" not in await page.content()


async def test_an_empty_profile_form_names_every_missing_field_at_once(
    admin: Page, screenshots: Screenshots
) -> None:
    page = admin
    await page.goto("/credential-profiles/new")
    dialog = page.get_by_role("dialog", name="Add Credential Profile")
    await dialog.get_by_role("button", name="Add").click()
    dialog = page.get_by_role("dialog", name="Add Credential Profile")
    for field in ("name", "client_id", "client_secret"):
        await expect(page.locator(f"#{field}-error")).to_be_visible()
        await expect(dialog.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
    await screenshots.take(page, "profile-empty-form")
