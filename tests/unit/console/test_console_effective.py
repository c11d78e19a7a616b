"""Effective membership in the console: who is in a container and what a principal is in, each
line with its path spelt in names, as `entrasync-ctl effective` prints it (80 columns, or
JSON/YAML/CSV) and as the REST API answers; objects named by id or by exact name."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from console_fakes import NOW, FakeServices, tenant
from entrasync_console.cli import app
from entrasync_console.cli.common import Output, formatted, plain
from entrasync_console.cli.render import effective_members_table, effective_memberships_table
from entrasync_console.core import effective
from entrasync_console.core.auth import hash_password, new_token
from entrasync_console.main import build_app
from entrasync_console.settings import ConsoleSettings
from entrasync_shared.catalog import ConfigApi, HistoryApi
from entrasync_shared.messages import (
    ApiError,
    DeletedTenants,
    EffectiveContainer,
    EffectiveMember,
    EffectiveMembers,
    EffectiveMembership,
    EffectiveMemberships,
    InventoryItem,
    Page,
)
from entrasync_shared.natsutil import ApiCallError
from pydantic import SecretStr
from rich.console import Console
from typer.testing import CliRunner

GA_TEMPLATE = "62e90394-69f5-4237-9190-012177145e10"
GA = EffectiveContainer(
    type="directoryRole", id="role-ga", display_name="Global Administrator",
    role_template_id=GA_TEMPLATE,
)  # fmt: skip
TIER0 = EffectiveContainer(type="group", id="grp-tier0", display_name="Tier0 Admins")
UNIT = EffectiveContainer(type="administrativeUnit", id="au-paris")  # no name known
ALICE = "3f2c1b4e-0000-4000-8000-00000000a11c"


def member(kind: Any, object_id: str, name: str | None, *path: str) -> EffectiveMember:
    return EffectiveMember(
        type=kind, id=object_id, display_name=name, path=path, direct=len(path) == 1
    )


def members() -> EffectiveMembers:
    return EffectiveMembers(
        tenant_id="t1",
        container=GA,
        items=(
            member("group", TIER0.id, "Tier0 Admins", GA.id),
            member("user", ALICE, "alice", GA.id, TIER0.id),
            member("unknown", "u-gone", None, GA.id, TIER0.id),
        ),
        total=3,
        direct=1,
        names={TIER0.id: "Tier0 Admins"},
    )


def memberships(**values: Any) -> EffectiveMemberships:
    items = (
        EffectiveMembership(container=TIER0, path=(TIER0.id,), direct=True),
        EffectiveMembership(container=GA, path=(GA.id, TIER0.id), direct=False),
        EffectiveMembership(container=UNIT, path=(UNIT.id,), direct=True),
    )
    fields: dict[str, Any] = {
        "tenant_id": "t1", "principal_id": ALICE, "principal_type": "user",
        "display_name": "alice", "items": items, "names": {TIER0.id: "Tier0 Admins"},
        **values,
    }  # fmt: skip
    return EffectiveMemberships.model_validate(fields)


def rendered(table: object, width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(table)
    return console.export_text()


def test_each_member_shows_direct_or_nested_with_the_path_in_names() -> None:
    view = effective.members_view(members())
    assert [(x.member_name, x.member_type, x.direct, x.path_text) for x in view.items] == [
        ("Tier0 Admins", "group", True, "Global Administrator ← Tier0 Admins"),
        ("alice", "user", False, "Global Administrator ← Tier0 Admins ← alice"),
        ("u-gone", "unknown", False, "Global Administrator ← Tier0 Admins ← u-gone"),
    ]
    text = rendered(effective_members_table(view), width=160)
    title = "Effective members of Global Administrator (directoryRole): 3 in all, 1 direct"
    assert title in " ".join(text.split())
    alice = next(line for line in text.splitlines() if "← alice" in line)
    assert "via group" in alice and "user" in alice and ALICE not in alice
    assert all(len(line) <= 80 for line in rendered(effective_members_table(view)).splitlines())
    assert ALICE in rendered(effective_members_table(view, wide=True), width=200)


def test_a_page_of_many_members_says_which_page_it_is() -> None:
    many = members().model_copy(update={"total": 250, "page": 2})
    text = rendered(effective_members_table(effective.members_view(many)), width=160)
    assert "250 in all, 1 direct — page 2 of 3" in " ".join(text.split())


def test_each_membership_shows_the_container_its_role_template_and_the_path() -> None:
    view = effective.memberships_view(memberships())
    assert [(x.container_name, x.container_type, x.direct, x.path_text) for x in view.items] == [
        ("Tier0 Admins", "group", True, "Tier0 Admins ← alice"),
        ("Global Administrator", "directoryRole", False,
         "Global Administrator ← Tier0 Admins ← alice"),
        ("au-paris", "administrativeUnit", True, "au-paris ← alice"),
    ]  # fmt: skip
    assert view.items[1].role_template_id == GA_TEMPLATE
    assert (view.principal_name, view.principal_type) == ("alice", "user")
    narrow = rendered(effective_memberships_table(view))
    assert "Effective memberships of alice (user): 3" in narrow
    assert all(len(line) <= 80 for line in narrow.splitlines())
    assert GA_TEMPLATE in rendered(effective_memberships_table(view, wide=True), width=200)


def test_machine_output_has_one_row_per_line_with_its_path() -> None:
    view = effective.memberships_view(memberships())
    rows = formatted(plain(view), Output.csv).splitlines()
    assert rows[0].split(",")[:3] == ["container_type", "container_id", "container_name"]
    assert "Global Administrator ← Tier0 Admins ← alice" in rows[2]
    assert GA_TEMPLATE in rows[2] and len(rows) == 4
    as_json = json.loads(formatted(plain(effective.members_view(members())), Output.json))
    assert as_json["container"]["role_template_id"] == GA_TEMPLATE
    assert as_json["items"][1]["path"] == [GA.id, TIER0.id]


def item(object_type: Any, object_id: str, **attributes: Any) -> InventoryItem:
    return InventoryItem(
        tenant_id="t1", object_type=object_type, object_id=object_id, attributes=attributes,
        content_hash="h", first_seen=NOW, last_seen_run="r1",
    )  # fmt: skip


def inventory(*items: InventoryItem) -> Any:
    def answer(query: Any) -> Page[InventoryItem]:
        found = tuple(i for i in items if i.object_type == query.object_type)
        return Page[InventoryItem](items=found, total=len(found), page=1, page_size=100)

    return answer


async def test_an_object_id_is_taken_as_it_is_and_a_name_is_looked_up_exactly() -> None:
    services = FakeServices()
    assert await effective.find_principal(services, "t1", ALICE) == ALICE
    assert services.calls == []  # an id needs no look-up
    services.answer(
        HistoryApi.objects_list,
        inventory(
            item("user", ALICE, displayName="alice", userPrincipalName="alice@contoso.com"),
            item("user", "u-alicia", displayName="alicia"),  # the search's partial match
            item("group", "grp-tier0", displayName="Tier0 Admins"),
        ),
    )
    assert await effective.find_principal(services, "t1", "ALICE@contoso.com") == ALICE
    assert await effective.find_principal(services, "t1", "alice") == ALICE
    assert await effective.find_container(services, "t1", "tier0 admins") == "grp-tier0"
    asked = services.asked(HistoryApi.objects_list)
    assert asked[0].search == "ALICE@contoso.com" and not asked[0].include_deleted
    with pytest.raises(ApiCallError) as missing:
        await effective.find_container(services, "t1", "alice")  # a user holds no members
    assert missing.value.error.code == "not_found"


async def test_a_name_several_objects_bear_is_refused_naming_them() -> None:
    services = FakeServices()
    services.answer(
        HistoryApi.objects_list,
        inventory(item("user", "u1", displayName="Ops"), item("group", "g1", displayName="ops")),
    )
    with pytest.raises(ApiCallError) as several:
        await effective.find_principal(services, "t1", "ops")
    assert several.value.error.code == "conflict"
    assert (
        "g1 (group)" in several.value.error.message and "u1 (user)" in several.value.error.message
    )


async def test_a_principal_history_knows_nothing_of_is_not_found_rather_than_in_nothing() -> None:
    services = FakeServices()
    unknown = memberships(items=(), principal_type="unknown", display_name=None)
    services.answer(HistoryApi.effective_memberships, unknown)
    with pytest.raises(ApiCallError) as missing:
        await effective.memberships_of(services, "t1", "nobody")
    assert (missing.value.error.code, missing.value.error.field) == ("not_found", "principal_id")
    services.answer(HistoryApi.effective_memberships, memberships(items=()))
    assert (await effective.memberships_of(services, "t1", ALICE)).items == ()


TOKEN, DIGEST = new_token()


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, FakeServices]]:
    settings = ConsoleSettings(
        admins=SecretStr(json.dumps({"admin": hash_password("pw")})),
        api_tokens=SecretStr(json.dumps({"script": DIGEST})),
        session_secret=SecretStr("s" * 40),
    )
    app = build_app(settings)
    services = FakeServices()
    app.state.console.services = services
    services.answer(ConfigApi.tenant_get, tenant("t1", "Contoso", "contoso.com"))
    services.answer(HistoryApi.effective_members, members())
    services.answer(HistoryApi.effective_memberships, memberships())
    headers = {"authorization": f"Bearer {TOKEN}"}
    transport = httpx.ASGITransport(app=app)  # no lifespan: nothing connects
    async with httpx.AsyncClient(transport=transport, base_url="http://c", headers=headers) as c:
        yield c, services


async def test_the_api_lists_a_containers_effective_members_with_paths(api: Any) -> None:
    client, services = api
    url = "/api/v1/tenants/t1/effective/members"
    found = await client.get(url, params={"container": GA.id, "page_size": 50})
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["total"], body["direct"], body["container"]["id"]) == (3, 1, GA.id)
    assert body["items"][1]["path_text"] == "Global Administrator ← Tier0 Admins ← alice"
    (query,) = services.asked(HistoryApi.effective_members)
    assert (query.tenant_id, query.container_id, query.page_size) == ("t1", GA.id, 50)
    assert (await client.get(url)).status_code == 422  # no container named
    anonymous = await client.get(url, params={"container": GA.id}, headers={"authorization": ""})
    assert anonymous.status_code == 401
    gone = ApiError(code="not_found", message="no group", field="container_id")
    services.answer(HistoryApi.effective_members, gone)
    assert (await client.get(url, params={"container": "x"})).status_code == 404
    services.answer(HistoryApi.effective_members, ApiError(code="unavailable", message="down"))
    assert (await client.get(url, params={"container": "x"})).status_code == 503


async def test_the_api_lists_what_a_principal_is_in_with_paths(api: Any) -> None:
    client, services = api
    url = "/api/v1/tenants/t1/effective/memberships"
    found = await client.get(url, params={"principal": ALICE})
    assert found.status_code == 200, found.text
    role = next(i for i in found.json()["items"] if i["container_type"] == "directoryRole")
    assert role["role_template_id"] == GA_TEMPLATE and role["path"] == [GA.id, TIER0.id]
    assert role["path_text"] == "Global Administrator ← Tier0 Admins ← alice"
    unknown = memberships(items=(), principal_type="unknown", display_name=None)
    services.answer(HistoryApi.effective_memberships, unknown)
    assert (await client.get(url, params={"principal": "nobody"})).status_code == 404
    services.answer(ConfigApi.tenant_get, ApiError(code="not_found", message="no tenant"))
    services.answer(HistoryApi.tenants_deleted, DeletedTenants(items=()))
    assert (await client.get(url, params={"principal": ALICE})).status_code == 404


async def test_the_openapi_document_describes_both_questions(api: Any) -> None:
    client, _ = api
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    members_op = paths["/api/v1/tenants/{tenant_id}/effective/members"]["get"]
    memberships_op = paths["/api/v1/tenants/{tenant_id}/effective/memberships"]["get"]
    assert members_op["operationId"] == "listEffectiveMembers"
    assert memberships_op["operationId"] == "listEffectiveMemberships"
    assert {p["name"] for p in members_op["parameters"]} >= {"container", "page", "page_size"}
    assert "principal" in {p["name"] for p in memberships_op["parameters"]}
    assert "404" in members_op["responses"]


def test_the_cli_asks_both_questions_and_refuses_a_bad_page_size_before_connecting() -> None:
    shown = CliRunner().invoke(app, ["effective", "--help"], terminal_width=200)
    assert shown.exit_code == 0 and "members" in shown.output and "memberships" in shown.output
    command = ["--nats-url", "nats://127.0.0.1:1", "effective", "members", "t1", "g1"]
    refused = CliRunner().invoke(app, [*command, "--page-size", "0"])
    assert refused.exit_code == 2 and "page-size" in refused.output
