"""The effective membership API (issue 20.4/5): who is in a group, role or unit with paths,
what a principal is in, and every directory role's direct and effective members, answered from
the inventory's edges and the stored closure."""

import json
from datetime import timedelta

from entrasync_history.entrypoints.api import api
from entrasync_history.entrypoints.deps import Deps
from entrasync_history.usecases.effective_queries import (
    effective_members,
    effective_memberships,
    privileged_roles,
)
from entrasync_history.usecases.pipeline import Context
from entrasync_shared.catalog import HistoryApi
from entrasync_shared.kit.api import answer
from entrasync_shared.messages import (
    EffectiveMembershipsQuery,
    EffectiveMembersQuery,
    PrivilegedRolesQuery,
)
from entrasync_shared.subjects import Names
from history_fakes import T0, TENANT, FakeDeadLetters, FakeHistoryQueries
from test_history_effective_pipeline import CHAIN, GA, context, named, play

S = timedelta(seconds=1)


async def tenant() -> Context:
    ctx, _, _ = context()
    units = ("administrativeUnit", [named("au", {"u1": "u", "g4": "g"})], [])
    await play(ctx, "r1", "full", T0, [*CHAIN, units])
    return ctx


async def test_who_is_in_a_role_directly_and_through_nested_groups_with_paths() -> None:
    ctx = await tenant()
    query = EffectiveMembersQuery(tenant_id=TENANT, container_id="ga")
    found = await effective_members(ctx.store.effective, query)
    assert found is not None
    assert (found.container.type, found.container.role_template_id) == ("directoryRole", GA)
    assert found.container.display_name == "GA"
    assert [(m.type, m.id, m.path, m.direct) for m in found.items] == [
        ("group", "g1", ("ga",), True),
        ("user", "u2", ("ga",), True),
        ("group", "g2", ("ga", "g1"), False),
        ("group", "g3", ("ga", "g1", "g2"), False),
        ("group", "g4", ("ga", "g1", "g2", "g3"), False),
        ("user", "u1", ("ga", "g1", "g2", "g3", "g4"), False),
    ]
    assert (found.total, found.direct) == (6, 2)
    assert found.items[-1].display_name == "U1"
    assert found.names == {c: c.upper() for c in ("ga", "g1", "g2", "g3", "g4")}

    second = await effective_members(
        ctx.store.effective, query.model_copy(update={"page": 2, "page_size": 4})
    )
    assert second is not None and [m.id for m in second.items] == ["g4", "u1"]


async def test_a_units_members_are_direct_only_and_an_unknown_container_is_none() -> None:
    ctx = await tenant()
    unit = await effective_members(
        ctx.store.effective, EffectiveMembersQuery(tenant_id=TENANT, container_id="au")
    )
    assert unit is not None
    assert [(m.id, m.path) for m in unit.items] == [("g4", ("au",)), ("u1", ("au",))]
    missing = EffectiveMembersQuery(tenant_id=TENANT, container_id="u1")
    assert await effective_members(ctx.store.effective, missing) is None


async def test_what_a_user_is_in_groups_roles_and_units_with_paths() -> None:
    ctx = await tenant()
    query = EffectiveMembershipsQuery(tenant_id=TENANT, principal_id="u1")
    found = await effective_memberships(ctx.store.effective, query)
    assert (found.principal_type, found.display_name) == ("user", "U1")
    assert [(m.container.type, m.container.id, m.path) for m in found.items] == [
        ("administrativeUnit", "au", ("au",)),
        ("directoryRole", "ga", ("ga", "g1", "g2", "g3", "g4")),
        ("group", "g1", ("g1", "g2", "g3", "g4")),
        ("group", "g2", ("g2", "g3", "g4")),
        ("group", "g3", ("g3", "g4")),
        ("group", "g4", ("g4",)),
        ("group", "other", ("other",)),
    ]
    assert found.items[1].container.role_template_id == GA
    nobody = await effective_memberships(
        ctx.store.effective, query.model_copy(update={"principal_id": "nobody"})
    )
    assert nobody.items == ()


async def test_privileged_roles_lists_each_role_with_direct_and_effective_members() -> None:
    ctx = await tenant()
    query = PrivilegedRolesQuery(tenant_id=TENANT, max_members=3)
    [role] = (await privileged_roles(ctx.store.effective, query)).items
    assert (role.id, role.display_name, role.role_template_id) == ("ga", "GA", GA)
    assert [(m.id, m.path) for m in role.direct_members] == [("g1", ("ga",)), ("u2", ("ga",))]
    assert [m.id for m in role.effective_members] == ["g1", "u2", "g2"]
    assert role.effective_total == 6


async def test_the_api_answers_them_and_names_a_missing_container_not_found() -> None:
    ctx = await tenant()
    deps = Deps(Names(), ctx, ctx.store, FakeHistoryQueries(), FakeDeadLetters(), 2.0, 0.5)

    async def ask(endpoint, payload):  # type: ignore[no-untyped-def]
        handler = api.handlers[endpoint.verb]
        raw = json.dumps(payload).encode()
        return await answer(raw, endpoint, lambda r: handler(r, deps), outages=api.outages)

    roles = await ask(HistoryApi.privileged_roles, {"tenant_id": TENANT})
    assert roles.ok and roles.result.items[0].effective_total == 6
    missing = await ask(HistoryApi.effective_members, {"tenant_id": TENANT, "container_id": "x"})
    assert (missing.ok, missing.error.code, missing.error.field) == (
        False,
        "not_found",
        "container_id",
    )
    mine = await ask(HistoryApi.effective_memberships, {"tenant_id": TENANT, "principal_id": "u2"})
    assert [m.container.id for m in mine.result.items] == ["ga", "other"]
