"""Browser fixtures: Debian's Chromium, driven by Playwright, using the real console.

Real: nats-server with JetStream and mongod (session `infra`), the Graph/Entra simulator as its
own HTTPS process, config, scheduler, syncer, history and the console each as a process
(`ServiceStack`), and Chromium from the `chromium` package at /usr/bin/chromium (no browser
download). Nothing in the console is faked. One stand-in: ~120 Sync History rows for the paging
test come from run events published on the pipeline as a syncer would
(`support.console_stack.seeded_history_tenant`). Screenshots of every screen go to the
session's tmp directory (`screenshots`), which pytest keeps for the last few runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from browser_helpers import (
    CHROMIUM,
    Screenshots,
    unique,
)
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ConsoleAccess, ServiceStack
from entrasync_sim.launcher import SimulatorProcess
from playwright.async_api import Browser, Page, async_playwright
from support.console_stack import (
    api_client,
    seeded_history_tenant,
    service_stack,
    simulator_profile,
)


@pytest.fixture(scope="session")
def ui_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(users=25, groups=3, devices=5, page_size=50, seed=5) as sim:
        yield sim


@pytest.fixture(scope="session")
def ui_stack(
    infra: LocalInfra, ui_sim: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    workdir = tmp_path_factory.mktemp("browser-stack")
    with service_stack(infra, ui_sim, workdir, "browser", prefix_label="ui") as running:
        yield running


@pytest.fixture(scope="session")
def ui_access(ui_stack: ServiceStack) -> ConsoleAccess:
    assert ui_stack.console is not None
    return ui_stack.console


@pytest.fixture(scope="session")
def ui_api(ui_access: ConsoleAccess) -> Iterator[httpx.Client]:
    """The REST API, to prepare data and to check what the UI did."""
    with api_client(ui_access) as client:
        yield client


@pytest.fixture
async def rest(ui_access: ConsoleAccess) -> AsyncIterator[httpx.AsyncClient]:
    """The REST API for async tests (a blocking client would stall Playwright's event loop)."""
    headers = {"authorization": f"Bearer {ui_access.api_token}"}
    async with httpx.AsyncClient(base_url=ui_access.url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def good_profile(ui_api: httpx.Client, ui_sim: SimulatorProcess) -> dict[str, Any]:
    return simulator_profile(ui_api, ui_sim, "Simulator app")


@pytest.fixture(scope="session")
def wrong_profile(ui_api: httpx.Client, ui_sim: SimulatorProcess) -> dict[str, Any]:
    body = {
        "name": unique("Wrong secret"),
        "client_id": ui_sim.tenants[0]["client_id"],
        "client_secret": "not-the-secret",
    }
    return dict(ui_api.post("/api/v1/credential-profiles", json=body).json())


@pytest.fixture(scope="session")
def seeded_tenant(
    ui_api: httpx.Client, ui_stack: ServiceStack, good_profile: dict[str, Any]
) -> dict[str, Any]:
    """A disabled tenant with 40 runs: 120 Sync History rows."""
    return seeded_history_tenant(ui_api, ui_stack, good_profile["id"])


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Chromium for one test module (Playwright's async API, on the tests' event loop)."""
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium)"
    )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    return Screenshots(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture
async def page(browser: Browser, ui_access: ConsoleAccess) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) on the console."""
    context = await browser.new_context(
        base_url=ui_access.url, viewport={"width": 1280, "height": 860}, accept_downloads=True
    )
    context.set_default_timeout(20_000)
    opened = await context.new_page()
    yield opened
    await context.close()


@pytest.fixture
async def admin(page: Page, ui_access: ConsoleAccess) -> Page:
    """The page, logged in as the admin."""
    await page.goto("/login")
    await page.get_by_label("User name").fill(ui_access.admin_user)
    await page.get_by_label("Password").fill(ui_access.admin_password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/integrations")
    return page
