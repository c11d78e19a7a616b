"""The API docs page in Chromium: Swagger UI from the console's own files, linked from every
page, with no request leaving the console and no Content-Security-Policy violation."""

from __future__ import annotations

from browser_helpers import Screenshots
from entrasync_console.web.middleware import CONTENT_SECURITY_POLICY
from entrasync_devtools.stack import ConsoleAccess
from playwright.async_api import Page, expect

RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


async def test_the_api_docs_come_from_the_console_itself(
    admin: Page, ui_access: ConsoleAccess, screenshots: Screenshots
) -> None:
    page = admin
    await page.add_init_script(RECORD_CSP_VIOLATIONS)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    console_errors: list[str] = []
    page.on(
        "console",
        lambda message: console_errors.append(message.text) if message.type == "error" else None,
    )
    await page.get_by_role("link", name="API docs").click()
    await expect(page).to_have_url(f"{ui_access.url}/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("entrasync console API")
    list_tenants = page.locator("#operations-tenants-listTenants")
    await expect(list_tenants).to_be_visible()
    await screenshots.take(page, "api-docs")
    # "Try it out" calls the API with the session of the console.
    await list_tenants.locator(".opblock-summary").click()
    await list_tenants.get_by_role("button", name="Try it out").click()
    await list_tenants.get_by_role("button", name="Execute").click()
    status = list_tenants.locator(".live-responses-table .response .response-col_status")
    await expect(status).to_have_text("200")
    await screenshots.take(page, "api-docs-try-it-out")
    outside = [url for url in requested if not url.startswith((ui_access.url, "data:", "blob:"))]
    assert outside == []
    assert await page.evaluate("window.cspViolations") == []
    assert not [text for text in console_errors if "Content Security Policy" in text]
    answer = await page.request.get("/docs")
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert "/docs/assets/swagger-ui-bundle.js" in await answer.text()
