"""The Privileged access tab lists the eligible (PIM) role assignments history holds (issue 20.1):
each with its role's name (a schedule's roleDefinitionId is the role's roleTemplateId), its
principal, scope, status and end, searchable; said when history cannot answer."""

from __future__ import annotations

from typing import Any

from console_fakes import NOW, FakeServices, tenant
from entrasync_console.core import privileged
from entrasync_console.web.privileged_pages import privileged_context
from entrasync_console.web.rendering import build_templates
from entrasync_shared.catalog import HistoryApi
from entrasync_shared.messages import InventoryItem, Page
from test_console_privileged import roles

TEMPLATE = build_templates().env.get_template("_privileged.html")
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
UNIT_SCOPE = "/administrativeUnits/au1"


def schedule(schedule_id: str, principal: str, template: str, **more: Any) -> InventoryItem:
    attributes = {
        "principalId": principal,
        "roleDefinitionId": template,
        "directoryScopeId": "/",
        "memberType": "Direct",
        "status": "Provisioned",
        "scheduleInfo": {"expiration": {"type": "noExpiration", "endDateTime": None}},
        **more,
    }
    return InventoryItem(
        tenant_id="t1",
        object_type="roleEligibility",
        object_id=schedule_id,
        attributes=attributes,
        content_hash="h",
        first_seen=NOW,
        last_seen_run="r1",
    )


SCHEDULES = (
    schedule("s1", "u-alice", GLOBAL_ADMINISTRATOR),
    schedule(
        "s2",
        "u-carol",
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        directoryScopeId=UNIT_SCOPE,
        scheduleInfo={
            "expiration": {"type": "afterDateTime", "endDateTime": "2027-01-01T00:00:00Z"}
        },
    ),
)


def page(search: str = "", eligible: tuple[Any, str | None] = (SCHEDULES, None)) -> str:
    context = privileged_context((roles(), None), (None, None), search, eligible)
    return TEMPLATE.render(tenant=tenant("t1", "Contoso", "contoso.com"), **context)


def test_each_eligible_assignment_names_its_role_principal_scope_and_end() -> None:
    lines = privileged.eligible_lines(SCHEDULES, roles())

    assert [(e.role_name, e.principal_name, e.scope, e.ends) for e in lines] == [
        ("fe930be7-5e62-47db-91af-98c3a49a38b1", "u-carol", UNIT_SCOPE, "2027-01-01T00:00:00Z"),
        ("Global Administrator", "alice", "/", None),
    ]


def test_the_tab_shows_the_eligible_assignments_and_the_search_narrows_them() -> None:
    html = page()
    table = html[html.index('id="eligible-table"') : html.index('id="changes-title"')]
    assert "Global Administrator" in table and "alice" in table and "Whole tenant" in table
    assert UNIT_SCOPE in table and "2027-01-01T00:00:00Z" in table and "Never" in table

    narrowed = page("carol")
    table = narrowed[narrowed.index('id="eligible-table"') : narrowed.index('id="changes-title"')]
    assert "u-carol" in table and "alice" not in table


def test_no_eligible_assignment_or_no_answer_is_said_on_the_page() -> None:
    assert "add Eligible role assignments to the tenant's object types" in page(eligible=((), None))
    down = page(eligible=((), "the history service does not answer"))
    assert "Eligible role assignments unknown: the history service does not answer" in down


async def test_the_view_asks_history_for_the_tenants_eligibility_schedules() -> None:
    services = FakeServices()
    services.answer(
        HistoryApi.objects_list,
        Page[InventoryItem](items=SCHEDULES, total=2, page=1, page_size=1000),
    )

    found = await privileged.eligible_of(services, "t1")

    assert found == SCHEDULES
    [query] = services.asked(HistoryApi.objects_list)
    assert (query.tenant_id, query.object_type, query.include_deleted) == (
        "t1",
        "roleEligibility",
        False,
    )
