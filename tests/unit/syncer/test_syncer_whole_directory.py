"""The whole directory (issue 20): every object type is read with delta like users, groups and
devices; roles and units carry members like groups; the filters reach only the types they name
(docs/object-types.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from entrasync_shared.members import member_type
from entrasync_shared.messages import ObservedObject, StartSync, TenantFilters
from entrasync_shared.subjects import (
    CONTAINER_TYPES,
    FULL_LIST_TYPES,
    GRAPH_PATHS,
    OBJECT_TYPES,
    ObjectType,
)
from entrasync_sim.schema import parse_kind, selectable
from entrasync_syncer.domain import Cursor, full_round_url, plan_type
from entrasync_syncer.domain.filters import FilterTally, Scope
from entrasync_syncer.domain.pages import PageReader, compact_members
from entrasync_syncer.domain.plans import SELECTS
from entrasync_syncer.usecases.sync import sync_tenant
from syncer_fakes import GRAPH, Fakes, credential

NEW_TYPES: tuple[ObjectType, ...] = tuple(
    t for t in OBJECT_TYPES if t not in ("user", "group", "device", *FULL_LIST_TYPES)
)
DELTA_TYPES: tuple[ObjectType, ...] = tuple(t for t in OBJECT_TYPES if t not in FULL_LIST_TYPES)
NOW = datetime(2026, 12, 7, tzinfo=UTC)
SCOPE_GROUP = "0f8fad5b-d9cb-469f-a165-70867728950e"
OUTSIDE = "22222222-2222-4222-8222-222222222222"


def selected(object_type: ObjectType) -> list[str]:
    query = parse_qs(urlsplit(full_round_url(GRAPH, object_type)).query)
    return query["$select"][0].split(",")


# -- what is asked --------------------------------------------------------------------------


@pytest.mark.parametrize("object_type", DELTA_TYPES)
def test_every_type_starts_a_delta_round_at_its_graph_path(object_type: ObjectType) -> None:
    url = urlsplit(full_round_url(GRAPH, object_type))

    assert url.path == f"/v1.0/{GRAPH_PATHS[object_type]}/delta"
    assert selected(object_type)[0] == "id"


def test_the_new_types_select_what_a_security_team_needs() -> None:
    assert {
        "appId",
        "servicePrincipalType",
        "accountEnabled",
        "appOwnerOrganizationId",
        "keyCredentials",
        "passwordCredentials",
    } <= set(selected("servicePrincipal"))
    assert {"appId", "signInAudience", "keyCredentials", "passwordCredentials"} <= set(
        selected("application")
    )
    assert {"displayName", "roleTemplateId", "members"} <= set(selected("directoryRole"))
    assert {"displayName", "visibility", "members"} <= set(selected("administrativeUnit"))
    assert {"displayName", "mail"} <= set(selected("orgContact"))


def test_exactly_the_container_types_select_their_members() -> None:
    assert {t for t in OBJECT_TYPES if "members" in SELECTS[t]} == set(CONTAINER_TYPES)


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
def test_every_selected_property_is_one_graph_serves(object_type: ObjectType) -> None:
    """The simulator answers 400 to an unknown `$select` name, as Graph does."""
    kind = parse_kind(GRAPH_PATHS[object_type].rsplit("/", 1)[-1])
    assert kind is not None

    assert set(selected(object_type)) - {"id"} <= selectable(kind)


# -- members -----------------------------------------------------------------------------------


def ref(odata: str, object_id: str, removed: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"@odata.type": f"#microsoft.graph.{odata}", "id": object_id}
    if removed:
        item["@removed"] = {"reason": "deleted"}
    return item


def observed(entry: dict[str, Any], compact: bool) -> tuple[ObservedObject, dict, dict]:
    entries: list[Any] = [entry]
    if compact:
        compact_members(entries)
    (obj,), removals = PageReader().read(entries)
    assert removals == []
    added = dict(zip(obj.members_added, map(member_type, obj.members_added_types), strict=True))
    removed = dict(
        zip(obj.members_removed, map(member_type, obj.members_removed_types), strict=True)
    )
    return obj, added, removed


ROLE_MEMBERS = [
    ref("user", "u1"),
    ref("servicePrincipal", "sp1"),
    ref("group", "g-assignable"),
    ref("user", "u0", removed=True),
]


@pytest.mark.parametrize("compact", [False, True], ids=["parsed", "compacted"])
def test_a_role_page_with_members_delta_reads_exactly_like_a_group_page(compact: bool) -> None:
    # directoryrole-delta.md's sample: a role entry whose members@delta holds a removed user.
    role = {
        "id": "f8e85ed8-f66f-4058-b170-3efae8b9c6e5",
        "displayName": "Global Administrator",
        "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10",
        "members@delta": ROLE_MEMBERS,
    }
    group = {"id": "g1", "displayName": "Admins", "members@delta": ROLE_MEMBERS}

    role_obj, role_added, role_removed = observed(role, compact)
    _, group_added, group_removed = observed(group, compact)

    assert (
        role_added
        == group_added
        == {
            "u1": "user",
            "sp1": "servicePrincipal",
            "g-assignable": "group",
        }
    )
    assert role_removed == group_removed == {"u0": "user"}
    assert role_obj.attributes == {
        "displayName": "Global Administrator",
        "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10",
    }


def test_a_unit_continuing_on_the_next_page_still_delivers_its_members() -> None:
    reader = PageReader()
    first = [{"id": "au1", "displayName": "West", "members@delta": [ref("user", "u1")]}]
    later = [{"id": "au1", "members@delta": [ref("device", "d1"), ref("group", "g1")]}]

    (one,), _ = reader.read(first)
    (two,), _ = reader.read(later)

    assert one.members_added == ("u1",)
    assert dict(zip(two.members_added, map(member_type, two.members_added_types), strict=True)) == {
        "d1": "device",
        "g1": "group",
    }


# -- stored links ------------------------------------------------------------------------------


def plan(object_type: ObjectType, link: str) -> str:
    cursor = Cursor(link, NOW)
    found = plan_type(
        "delta", "schedule", cursor, object_type=object_type, graph_url=GRAPH, now=NOW
    )
    return found.mode


@pytest.mark.parametrize("object_type", NEW_TYPES)
def test_a_link_of_each_new_type_is_used_and_another_types_is_not(object_type: ObjectType) -> None:
    own = f"{GRAPH}/v1.0/{GRAPH_PATHS[object_type]}/delta()?$deltatoken=x"
    other = "groups" if object_type != "group" else "users"

    assert plan(object_type, own) == "delta"
    assert plan(object_type, f"{GRAPH}/v1.0/{other}/delta?$deltatoken=x") == "full"


@pytest.mark.parametrize(
    "path",
    [
        "directory/administrativeUnits/delta()",
        "directory/administrativeUnits/microsoft.graph.delta()",
        "administrativeUnits/delta",  # the top-level path administrativeunit-delta.md names
        "administrativeunits/delta",  # and spells so in its sample's nextLink
        "Directory/AdministrativeUnits/delta()",
    ],
)
def test_every_spelling_of_the_units_delta_link_is_used(path: str) -> None:
    assert plan("administrativeUnit", f"{GRAPH}/v1.0/{path}?$deltatoken=x") == "delta"


@pytest.mark.parametrize(
    "path",
    [
        "directory/administrativeUnits",
        "directory/administrativeUnits/au1/members/delta",
        "directoryRoles/delta",
        "directory/deletedItems/delta",
    ],
)
def test_a_link_of_something_else_is_no_units_delta_link(path: str) -> None:
    assert plan("administrativeUnit", f"{GRAPH}/v1.0/{path}?$deltatoken=x") == "full"


# -- filters -----------------------------------------------------------------------------------


def obj(object_id: str, **attributes: object) -> ObservedObject:
    return ObservedObject(id=object_id, attributes=attributes)


def test_the_group_scope_limits_users_groups_and_devices_only() -> None:
    scope = Scope(TenantFilters(member_of_groups=(SCOPE_GROUP,)), frozenset())

    assert not scope.admits("user", obj(OUTSIDE))
    assert not scope.admits("group", obj(OUTSIDE))
    assert not scope.admits("device", obj(OUTSIDE))
    assert all(scope.admits(t, obj(OUTSIDE, displayName="x")) for t in NEW_TYPES)


def test_disabled_service_principals_are_disabled_accounts_and_nothing_else_is() -> None:
    scope = Scope(TenantFilters(exclude_disabled=True))

    assert not scope.admits("servicePrincipal", obj("sp1", accountEnabled=False))
    assert scope.admits("servicePrincipal", obj("sp2", accountEnabled=True))
    assert scope.admits("servicePrincipal", obj("sp3", displayName="sparse update"))
    for object_type in ("application", "directoryRole", "administrativeUnit", "orgContact"):
        assert scope.admits(object_type, obj("x", accountEnabled=False))


def test_a_service_principal_disabled_in_a_delta_round_leaves_the_inventory() -> None:
    removals: list = []

    kept = FilterTally().apply(
        Scope(TenantFilters(exclude_disabled=True)),
        "servicePrincipal",
        "delta",
        [obj("sp1", accountEnabled=False)],
        removals,
    )

    assert kept == [] and [(r.id, r.reason) for r in removals] == [("sp1", "changed")]


def test_a_changed_scope_membership_leaves_the_new_types_links_usable() -> None:
    small = Scope(TenantFilters(member_of_groups=(SCOPE_GROUP,)), frozenset({"a"}))
    grown = Scope(TenantFilters(member_of_groups=(SCOPE_GROUP,)), frozenset({"a", "b"}))

    assert small.digest_of("user") != grown.digest_of("user")
    assert small.digest_of("user") == small.digest
    for object_type in NEW_TYPES:
        assert small.digest_of(object_type) == grown.digest_of(object_type) == ""


def test_excluding_disabled_accounts_changes_no_new_types_digest_but_service_principals() -> None:
    plain, strict = Scope(), Scope(TenantFilters(exclude_disabled=True))

    changed = {t for t in NEW_TYPES if plain.digest_of(t) != strict.digest_of(t)}

    assert changed == {"servicePrincipal"}


async def test_a_grown_scope_forces_a_full_round_of_users_but_not_of_roles() -> None:
    fakes = Fakes()
    tenant = credential("t1").model_copy(
        update={"filters": TenantFilters(member_of_groups=(SCOPE_GROUP,))}
    )
    fakes.credentials.known["t1"] = tenant
    members = f"{GRAPH}/v1.0/groups/{SCOPE_GROUP}/members?$select=id&$top=999"
    roles, users = full_round_url(GRAPH, "directoryRole"), full_round_url(GRAPH, "user")
    fakes.graph.serve(members, [])
    fakes.graph.serve(users, [])
    fakes.graph.serve(roles, [{"id": "r1", "displayName": "Global Administrator"}])
    run = StartSync(
        run_id="run1",
        tenant_id="t1",
        mode="delta",
        reason="schedule",
        object_types=("user", "directoryRole"),
    )
    first = await sync_tenant(run, fakes.deps())
    assert [(r.object_type, r.total) for r in first.results] == [
        ("user", 0),
        ("directoryRole", 1),
    ]
    for object_type in ("user", "directoryRole"):
        fakes.graph.serve(fakes.cursors.links[("t1", object_type)], [])
    fakes.graph.serve(members, [{"id": OUTSIDE}])

    grown = await sync_tenant(run.model_copy(update={"run_id": "run2"}), fakes.deps())

    assert [(r.object_type, r.mode) for r in grown.results] == [
        ("user", "full"),
        ("directoryRole", "delta"),
    ]
