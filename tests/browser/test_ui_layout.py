"""Every screen fits 360, 700 and 1400 px wide windows, in Chromium: nothing sticks out of the
page, the navigation pane wraps domains at their dots, and toasts leave the buttons alone.
Each screen is photographed at each width."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from browser_helpers import (
    CLOUD,
    WIDTHS,
    Screenshots,
    covered_by_toasts,
    mid_word_breaks,
    page_overflow,
    unique,
)
from playwright.async_api import Page, expect

LONG_DOMAIN = "research-and-development-europe-west.contoso-international.example.com"


@pytest.fixture
async def long_tenant(rest: httpx.AsyncClient, good_profile: dict[str, Any]) -> dict[str, Any]:
    """A tenant whose domain and name are as long as real ones get."""
    body = {
        "tenant": f"{unique('x')[-6:]}-{LONG_DOMAIN}",
        "cloud": CLOUD,
        "profile_id": good_profile["id"],
        "enabled": False,
        "name": unique("Contoso Research and Development Europe West subsidiary directory"),
    }
    created = await rest.post("/api/v1/tenants", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def fits(page: Page, screenshots: Screenshots, name: str) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    await screenshots.take(page, f"{name}-{width}")
    assert await page_overflow(page) <= 0, f"{name} is wider than a {width} px window"


@pytest.mark.parametrize("width", WIDTHS)
async def test_every_screen_fits_the_window(
    admin: Page,
    width: int,
    long_tenant: dict[str, Any],
    seeded_tenant: dict[str, Any],
    screenshots: Screenshots,
) -> None:
    page = admin
    await page.set_viewport_size({"width": width, "height": 800})
    await page.goto("/integrations")
    await expect(page.locator("#tenant-table")).to_contain_text(long_tenant["name"])
    await fits(page, screenshots, "integrations")
    await page.goto(f"/tenants/{long_tenant['id']}")
    heading = page.get_by_role("heading", level=1)
    await expect(heading).to_have_text(long_tenant["name"])
    await fits(page, screenshots, "tenant-configuration")
    sticks_out = await heading.evaluate("(h) => h.scrollWidth > h.clientWidth")
    assert not sticks_out, "the tenant name overflows its box"
    await page.goto(f"/tenants/{seeded_tenant['id']}?tab=history")
    await expect(page.locator("#history-table")).to_be_visible()
    await fits(page, screenshots, "sync-history")
    await page.goto("/integrations/new")
    await expect(page.get_by_role("dialog", name="Add New Integration")).to_be_visible()
    await fits(page, screenshots, "add-new-integration")
    await page.goto("/credential-profiles")
    await fits(page, screenshots, "credential-profiles")
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    await fits(page, screenshots, "api-docs")


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_navigation_pane_wraps_domains_between_labels(
    admin: Page,
    width: int,
    rest: httpx.AsyncClient,
    good_profile: dict[str, Any],
    long_tenant: dict[str, Any],
    screenshots: Screenshots,
) -> None:
    # Named after its domain: labels that each fit the pane, a whole that does not.
    body = {
        "tenant": f"{unique('x')[-6:]}contoso.researchdevelopment.onmicrosoft.com",
        "cloud": CLOUD,
        "profile_id": good_profile["id"],
        "enabled": False,
    }
    created = await rest.post("/api/v1/tenants", json=body)
    assert created.status_code == 201, created.text
    domain = created.json()["name"]
    page = admin
    await page.set_viewport_size({"width": width, "height": 800})
    await page.goto("/integrations")
    nav = page.get_by_role("navigation", name="Integrations navigation")
    await expect(nav.get_by_role("link", name=domain)).to_be_visible()
    await expect(nav.get_by_role("link", name=long_tenant["name"])).to_be_visible()
    await screenshots.take(page, f"navigation-{width}")
    for link in await nav.get_by_role("link").all():
        assert await mid_word_breaks(link) == [], await link.inner_text()
    for name in (domain, long_tenant["name"]):
        in_table = page.locator("#tenant-table a").filter(has_text=name)
        assert await mid_word_breaks(in_table) == [], name


@pytest.mark.parametrize("width", WIDTHS)
async def test_toasts_leave_the_buttons_visible(
    admin: Page,
    width: int,
    long_tenant: dict[str, Any],
    wrong_profile: dict[str, Any],
    screenshots: Screenshots,
) -> None:
    page = admin
    await page.set_viewport_size({"width": width, "height": 800})
    await page.goto(f"/tenants/{long_tenant['id']}")
    await page.get_by_role("button", name="Sync now").click()
    await expect(page.locator("#toasts .toast").filter(has_text="Sync")).to_be_visible()
    await page.evaluate("toast('error', 'A second, longer message that takes two lines or more.')")
    await screenshots.take(page, f"toasts-tenant-{width}")
    for name in ("Sync now", "Delete"):
        button = page.get_by_role("button", name=name, exact=True)
        assert await covered_by_toasts(page, button) == [], f"a toast covers {name}"
    await page.goto("/integrations")
    await page.evaluate("toast('success', 'Added a tenant with a rather long name to the list.')")
    add_new = page.get_by_role("link", name="Add New Integration")
    await expect(page.locator("#toasts .toast")).to_have_count(1)
    assert await covered_by_toasts(page, add_new) == []
    await add_new.click()
    dialog = page.get_by_role("dialog", name="Add New Integration")
    await dialog.get_by_label("Tenant", exact=True).fill("contoso.onmicrosoft.com")
    await dialog.get_by_label("Azure Cloud").select_option(CLOUD)  # the simulator, not Azure
    await dialog.get_by_label("Credential Profile").select_option(label=wrong_profile["name"])
    await dialog.get_by_role("button", name="Test Connection").click()
    await expect(page.locator("#toasts .toast").filter(has_text="Connection")).to_be_visible(
        timeout=30_000
    )
    await screenshots.take(page, f"toasts-add-window-{width}")
    for name in ("Add", "Test Connection", "Cancel"):
        button = dialog.get_by_role("button", name=name, exact=True)
        assert await covered_by_toasts(page, button) == [], f"a toast covers {name}"
