"""A type without delta (`FULL_LIST_TYPES`: PIM's eligible role assignments, issue 20.1) is read
whole on every run, delta runs included: its plain list with `$select`, nextLinks followed to a
page without one, reported as a full round, and no link stored."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from entrasync_shared.messages import StartSync
from entrasync_syncer.domain import Cursor, full_round_url, plan_type
from entrasync_syncer.usecases.sync import sync_tenant
from syncer_fakes import GRAPH, Fakes, credential

LIST = f"{GRAPH}/v1.0/roleManagement/directory/roleEligibilitySchedules"
NOW = datetime(2026, 12, 7, tzinfo=UTC)


def schedule(schedule_id: str, principal: str) -> dict[str, object]:
    return {
        "id": schedule_id,
        "principalId": principal,
        "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
        "directoryScopeId": "/",
        "memberType": "Direct",
        "status": "Provisioned",
    }


def test_the_list_is_asked_with_the_schedules_properties_and_no_delta_function() -> None:
    url = urlsplit(full_round_url(GRAPH, "roleEligibility"))
    selected = parse_qs(url.query)["$select"][0].split(",")

    assert f"{GRAPH}{url.path}" == LIST
    assert {"id", "principalId", "roleDefinitionId", "directoryScopeId", "scheduleInfo"} <= set(
        selected
    )


def test_a_delta_run_plans_a_full_round_of_eligibility_whatever_link_is_stored() -> None:
    stored = Cursor(f"{LIST}?$skiptoken=x", NOW)

    for cursor in (None, stored):
        found = plan_type(
            "delta",
            "schedule",
            cursor,
            object_type="roleEligibility",
            graph_url=GRAPH,
            now=NOW,
        )
        assert (found.mode, found.reason) == ("full", "schedule")
        assert found.url == full_round_url(GRAPH, "roleEligibility")


async def test_a_delta_run_reads_every_page_of_the_list_and_stores_no_link() -> None:
    fakes = Fakes()
    fakes.credentials.known["t1"] = credential("t1")
    first, second = full_round_url(GRAPH, "roleEligibility"), f"{LIST}?$skiptoken=p2"
    fakes.graph.serve(first, [schedule("s1", "u1")], next_url=second)
    fakes.graph.pages[second] = {"value": [schedule("s2", "u2")]}  # the list's end: no link
    fakes.graph.serve(
        fakes.cursors.links.setdefault(("t1", "user"), f"{GRAPH}/v1.0/users/delta?$deltatoken=u"),
        [],
    )
    run = StartSync(
        run_id="run1",
        tenant_id="t1",
        mode="delta",
        reason="schedule",
        object_types=("user", "roleEligibility"),
    )

    finished = await sync_tenant(run, fakes.deps())

    result = {r.object_type: r for r in finished.results}
    assert (result["user"].mode, result["roleEligibility"].mode) == ("delta", "full")
    assert result["roleEligibility"].status == "Succeeded"
    assert (result["roleEligibility"].total, result["roleEligibility"].pages) == (2, 2)
    batches = fakes.publisher.batches("roleEligibility")
    assert {b.mode for b in batches} == {"full"}
    assert [o.id for b in batches for o in b.objects] == ["s1", "s2"]
    assert ("t1", "roleEligibility") not in fakes.cursors.links
    assert fakes.graph.requested.count(first) == 1
