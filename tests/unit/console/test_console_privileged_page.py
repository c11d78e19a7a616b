"""The Privileged access tab as rendered, and its REST routes answered from fake services: a
role's effective member shows with its path, the search narrows both tables, and what history or
the events cannot say is said on the page instead of failing it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from console_fakes import NOW, FakeEventLog, FakeServices, tenant
from entrasync_console.core import privileged, role_changes
from entrasync_console.core.auth import hash_password, new_token
from entrasync_console.main import build_app
from entrasync_console.settings import ConsoleSettings
from entrasync_console.web.privileged_pages import privileged_context
from entrasync_console.web.rendering import build_templates
from entrasync_shared.catalog import ConfigApi, HistoryApi
from entrasync_shared.messages import ApiError, HistoryRow, Page, PrivilegedRoles
from pydantic import SecretStr
from test_console_privileged import GA, assigned, effective, roles

TEMPLATE = build_templates().env.get_template("_privileged.html")


def changes(*events: dict[str, Any], complete: bool = True) -> role_changes.RoleChanges:
    items = role_changes.role_changes(events, privileged.known_names(roles()))
    return role_changes.RoleChanges(
        tenant_id="t1", since=NOW - timedelta(days=30), items=tuple(items), complete=complete
    )


def page(search: str = "", **found: Any) -> str:
    role_answer = found.get("roles", (roles(), None))
    change_answer = found.get("changes", (changes(), None))
    context = privileged_context(role_answer, change_answer, search)
    return TEMPLATE.render(tenant=tenant("t1", "Contoso", "contoso.com"), **context)


def test_the_tab_shows_a_roles_effective_member_with_its_path() -> None:
    html = page(changes=(changes(assigned(NOW, "r1", ["u-bob"])), None))
    assert "Global Administrator ← Tier0 Admins ← alice" in html
    assert "Through a group" in html and "Roles with no members: Directory Readers." in html
    assert "Gained" in html and "Global Administrator ← bob" in html
    assert "Only the newest" not in html
    live = html[html.index('id="privileged-live" data-live') :]  # refreshed without a reload
    assert "← alice" in live and "privileged-search" not in live  # not the box being typed in


def test_the_search_narrows_the_roles_and_the_changes() -> None:
    lost = effective(NOW, "r3", "u-alice", [], lost=[("directoryRole", GA, [GA, "grp-tier0"])])
    html = page("bob", changes=(changes(assigned(NOW, "r1", ["u-bob"]), lost), None))
    assert "Global Administrator ← bob" in html
    assert "← alice" not in html and "Roles with no members" not in html


def test_what_history_or_the_events_cannot_say_is_said_on_the_page() -> None:
    empty = PrivilegedRoles(tenant_id="t1", items=())
    html = page(roles=(empty, "the history service does not answer"), changes=(None, "no stream"))
    assert "Directory roles unknown: the history service does not answer" in html
    assert "Role changes unknown: no stream" in html
    partial = page(changes=(changes(complete=False), None))
    assert "Only the newest 5,000 role events were read" in partial


TOKEN, DIGEST = new_token()


@pytest.fixture
async def app_parts() -> AsyncIterator[tuple[httpx.AsyncClient, FakeServices, FakeEventLog]]:
    settings = ConsoleSettings(
        admins=SecretStr(json.dumps({"admin": hash_password("pw")})),
        api_tokens=SecretStr(json.dumps({"script": DIGEST})),
        session_secret=SecretStr("s" * 40),
    )
    app = build_app(settings)
    services, events = FakeServices(), FakeEventLog()
    app.state.console.services = services
    app.state.console.events = events
    services.answer(ConfigApi.tenant_get, tenant("t1", "Contoso", "contoso.com"))
    services.answer(HistoryApi.privileged_roles, roles())
    headers = {"authorization": f"Bearer {TOKEN}"}
    transport = httpx.ASGITransport(app=app)  # no lifespan: nothing connects
    async with httpx.AsyncClient(transport=transport, base_url="http://c", headers=headers) as c:
        yield c, services, events


async def test_the_api_lists_each_roles_holders_with_their_paths(app_parts: Any) -> None:
    client, services, _ = app_parts
    found = await client.get("/api/v1/tenants/t1/privileged", params={"search": "alice"})
    assert found.status_code == 200, found.text
    (alice,) = found.json()["members"]
    assert alice["path"] == [GA, "grp-tier0"] and not alice["direct"]
    assert alice["path_text"] == "Global Administrator ← Tier0 Admins ← alice"
    assert len(found.json()["roles"]) == 2
    assert services.asked(HistoryApi.privileged_roles)[0].tenant_id == "t1"
    anonymous = await client.get("/api/v1/tenants/t1/privileged", headers={"authorization": ""})
    assert anonymous.status_code == 401


async def test_the_api_lists_role_changes_newest_first(app_parts: Any) -> None:
    client, services, events = app_parts
    events.events += [
        assigned(NOW - timedelta(days=1), "r1", ["u-bob"]),
        assigned(NOW, "r2", [], ["u-bob"]),
    ]
    found = await client.get("/api/v1/tenants/t1/privileged/changes", params={"days": 7})
    assert found.status_code == 200, found.text
    body = found.json()
    assert [(c["change"], c["principal_name"]) for c in body["items"]] == [
        ("removed", "bob"),
        ("added", "bob"),
    ]
    assert body["complete"] is True
    too_far = await client.get("/api/v1/tenants/t1/privileged/changes", params={"days": 31})
    assert too_far.status_code == 422
    services.answer(HistoryApi.privileged_roles, ApiError(code="unavailable", message="down"))
    assert (await client.get("/api/v1/tenants/t1/privileged")).status_code == 503


HISTORY = build_templates().env.get_template("_history.html")


def history_page(privileged_only: bool) -> str:
    return HISTORY.render(
        page=2, page_size=50, page_sizes=(50, 100, 1000), search="", changes_only=True,
        privileged_only=privileged_only, privileged_search="directoryRole",
        history_path="/tenants/t1", history_tab=True, history_name="Contoso",
        csv_url="/api/v1/tenants/t1/history.csv", groups=[], total=120, last_page=3,
    )  # fmt: skip


def test_sync_history_has_a_privileged_only_toggle_kept_by_its_links_and_export() -> None:
    off, on = history_page(False), history_page(True)
    assert 'id="privileged-only" name="privileged" value="1" type="checkbox"' in off
    assert "privileged=1" not in off and "data-submit-on-change >" in off.replace("  ", " ")
    assert "data-submit-on-change checked" in on
    assert (
        "&amp;privileged=1&page=1" in on
        and '<input type="hidden" name="privileged" value="1">' in on
    )
    assert 'href="/api/v1/tenants/t1/history.csv?search=directoryRole"' in on
    assert "Only the Directory roles rows" in on and 'href="/tenants/t1?tab=privileged"' in on


async def test_the_api_restricts_history_to_the_directory_roles_rows(app_parts: Any) -> None:
    client, services, _ = app_parts
    services.answer(HistoryApi.runs_list, Page[HistoryRow](items=(), total=0, page=1, page_size=50))
    asked = {"privileged": "true", "search": "ignored"}
    found = await client.get("/api/v1/tenants/t1/history", params=asked)
    assert found.status_code == 200, found.text
    assert [q.search for q in services.asked(HistoryApi.runs_list)] == ["directoryRole"]
