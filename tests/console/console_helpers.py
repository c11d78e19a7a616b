"""Plain helpers for the console's tests: the stack's settings, polling, and a stand-in syncer."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, TypeVar

import httpx
from entrasync_devtools.history_seed import seed_history  # noqa: F401 - re-exported
from entrasync_sim.launcher import SimulatorProcess
from support import console_stack
from support.console_stack import CLOUD, SEEDED_RUNS, unique  # noqa: F401 - re-exported
from support.polling import eventually_blocking

T = TypeVar("T")
PROXY = "127.0.0.50"
"""The one address the test stack's console trusts as a reverse proxy."""


def stack_environment(sim: SimulatorProcess, workdir: Path) -> tuple[dict[str, str], str]:
    """The console suite's stack settings (`support.console_stack.stack_environment`)."""
    return console_stack.stack_environment(sim, workdir, "console", prefix_label="con")


@dataclass(frozen=True)
class Session:
    """A logged-in browser's cookies and the session's CSRF token."""

    cookies: dict[str, str]
    csrf: str
    set_cookie: str

    def headers(self, csrf: bool = True) -> dict[str, str]:
        # httpx keeps `Secure` cookies away from http:// URLs, so the test sends them itself.
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {"cookie": cookie, **({"x-csrf-token": self.csrf} if csrf else {})}


def set_cookies(response: httpx.Response) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items() if morsel.value}


def hidden_field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def login_form(http: httpx.Client) -> tuple[dict[str, str], str]:
    """The login page's cookie and CSRF token."""
    page = http.get("/login")
    assert page.status_code == 200
    return set_cookies(page), hidden_field(page.text, "csrf_token")


def post_login(
    http: httpx.Client, user: str, password: str, form: tuple[dict[str, str], str] | None = None
) -> httpx.Response:
    cookies, csrf = form or login_form(http)
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = {"username": user, "password": password, "csrf_token": csrf, "next": "/integrations"}
    return http.post("/login", data=body, headers={"cookie": header})


def log_in(base_url: str, user: str, password: str) -> Session:
    with httpx.Client(base_url=base_url, follow_redirects=False) as http:
        done = post_login(http, user, password)
        assert done.status_code == 303, done.text
        cookies = set_cookies(done)
        page = http.get(
            "/integrations", headers={"cookie": f"entrasync_session={cookies['entrasync_session']}"}
        )
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert csrf, page.text[:500]
        return Session(
            {"entrasync_session": cookies["entrasync_session"]},
            csrf.group(1),
            ";".join(done.headers.get_list("set-cookie")),
        )


def eventually(probe: Callable[[], T | None], what: str, within: float = 60.0) -> T:
    """`support.polling.eventually_blocking` at the pace of a whole stack run as processes."""
    return eventually_blocking(probe, what, within, interval=0.2)


def wait_for_first_sync(api: httpx.Client, tenant_id: str, within: float = 90.0) -> dict[str, Any]:
    def recorded() -> dict[str, Any] | None:
        status = api.get(f"/api/v1/tenants/{tenant_id}/status").json()
        done = status["last_sync"] and not status["running"]
        return status if done else None

    return eventually(recorded, f"the first sync of tenant {tenant_id}", within)
