"""The Credential Profiles page in Chromium: add (errors by the field), expiry warnings, edit
with a write-only secret."""

from __future__ import annotations

import httpx
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


async def test_saving_over_a_newer_version_says_so_plainly_and_saves_on_retry(
    admin: Page, rest: httpx.AsyncClient, screenshots: Screenshots
) -> None:
    body = {
        "name": unique("Changed meanwhile"),
        "client_id": "0a1b2c3d-1111-4222-8333-444455556666",
        "client_secret": "s3cret",
    }
    profile = (await rest.post("/api/v1/credential-profiles", json=body)).json()
    page = admin
    await page.clock.install()  # the page's timers stand still: no refresh before Save
    await page.goto(f"/credential-profiles/{profile['id']}")
    await page.get_by_label("Secret expires on").fill("2099-06-30")
    changed = await rest.patch(
        f"/api/v1/credential-profiles/{profile['id']}",
        json={"version": profile["version"], "secret_expires_at": "2098-01-01"},
    )
    assert changed.status_code == 200, changed.text
    await page.get_by_role("button", name="Save").click()
    stale = page.locator("#toasts .toast").filter(has_text="Not saved: this profile was changed")
    await expect(stale).to_be_visible()
    await expect(stale).not_to_contain_text("version")
    await screenshots.take(page, "profile-changed-meanwhile")
    await expect(page.get_by_label("Secret expires on")).to_have_value("2099-06-30")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#toasts .toast").filter(has_text="Saved")).to_be_visible()
    stored = (await rest.get(f"/api/v1/credential-profiles/{profile['id']}")).json()
    assert stored["secret_expires_at"] == "2099-06-30"


async def test_a_workload_identity_profile_is_added_without_a_secret(
    admin: Page, ui_access: ConsoleAccess
) -> None:
    page = admin
    await page.goto("/credential-profiles/new")
    dialog = page.get_by_role("dialog", name="Add Credential Profile")
    name = unique("Workload app")
    await dialog.get_by_label("Name").fill(name)
    await dialog.get_by_label("Client ID").fill("0a1b2c3d-1111-4222-8333-444455556677")
    await dialog.get_by_text("Use workload identity federation instead").click()
    await dialog.get_by_label("Workload identity (e.g. AKS)").check()
    await dialog.get_by_label("Token file").fill("/var/run/secrets/azure/tokens/token")
    await dialog.get_by_role("button", name="Add").click()
    await expect(page).to_have_url(f"{ui_access.url}/credential-profiles")
    row = page.locator("#profile-table tbody tr").filter(has_text=name)
    await expect(row).to_contain_text("Workload identity")
    await row.get_by_role("link", name=name).click()
    await expect(page.get_by_label("Token file")).to_have_value(
        "/var/run/secrets/azure/tokens/token"
    )
    await expect(page.get_by_role("button", name="Save")).to_be_disabled()
