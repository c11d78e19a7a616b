"""The whole directory end to end (issue 20): a tenant syncing all nine object types converges
to the simulator's truth for every type, through every service, after its full sync and after
delta rounds that create a service principal, update an application, soft-delete then restore
an administrative unit, purge a contact, change a directory role's members, put a service
principal into a group, and create and remove an eligible role assignment (PIM's schedules,
read in full on every run); each change arrives as its
`entrasync.directory.<tenant>.<type>.<change>` event. Effective membership (issue 20.4/5): the
privileged view equals a brute-force closure of the truth, and a user joining the
role-assignable group that holds Global Administrator is exactly one `effective_changed` event
naming the role and the path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import eventually, read_events, recorded, register, run_now, stream_last_seq
from entrasync_devtools.stack import ServiceStack
from entrasync_shared.messages import (
    HistoryObjectsQuery,
    InventoryItem,
    Page,
    PrivilegedRoles,
    PrivilegedRolesQuery,
)
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import CONTAINER_TYPES, OBJECT_TYPES, READ_PERMISSIONS, ObjectType
from entrasync_sim.control_client import ControlError, SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient

pytestmark = pytest.mark.timeout(300)

Inventory = dict[ObjectType, dict[str, dict[str, Any]]]
Holders = dict[str, dict[str, int]]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    # Small, but every type has a few objects: 4 service principals, 2 applications, 2
    # contacts, 2 units, the built-in roles (Global Administrator with users and a group).
    with SimulatorProcess(
        users=40, groups=6, devices=4, administrative_units=2, page_size=10, seed=20
    ) as s:
        yield s


async def inventory(bus: NatsClient, stack: ServiceStack, tenant_id: str) -> Inventory:
    """Every live object per type as history's API lists it: attributes, and for roles, units
    and groups `memberTypes` (member id → type) as the simulator's truth has them."""
    found: Inventory = {}
    for object_type in OBJECT_TYPES:
        query = HistoryObjectsQuery(
            tenant_id=tenant_id, object_type=object_type, page_size=1000, include_deleted=False
        )
        subject = stack.names.api("history", "objects.list")
        page = await call(bus, subject, query, Page[InventoryItem])
        assert page.total == len(page.items), object_type
        found[object_type] = {item.object_id: entry(item) for item in page.items}
    return found


def entry(item: InventoryItem) -> dict[str, Any]:
    stored = dict(item.attributes)
    if item.object_type in CONTAINER_TYPES:
        stored["memberTypes"] = {ref.id: ref.type for ref in item.member_refs}
    return stored


def differences(stored: Inventory, truth: dict[ObjectType, list[dict[str, Any]]]) -> list[str]:
    """How the inventory differs from the truth: objects missing or extra, a stored property
    (or typed member list) that is not the truth's."""
    problems: list[str] = []
    for object_type in OBJECT_TYPES:
        expected = {obj["id"]: obj for obj in truth[object_type]}
        have = stored[object_type]
        problems += [f"{object_type} {i} missing" for i in sorted(expected.keys() - have.keys())]
        problems += [f"{object_type} {i} not live" for i in sorted(have.keys() - expected.keys())]
        for object_id in expected.keys() & have.keys():
            if "displayName" not in have[object_id] and object_type != "roleEligibility":
                problems.append(f"{object_type} {object_id} has no displayName")
            for key, value in have[object_id].items():
                if expected[object_id].get(key) != value:
                    wanted = expected[object_id].get(key)
                    problems.append(f"{object_type} {object_id}.{key}: {value!r}, truth {wanted!r}")
    return problems


async def events_of(
    bus: NatsClient,
    stack: ServiceStack,
    tenant_id: str,
    after: int,
    wanted: set[tuple[str, str, str]],
) -> set[tuple[str, str, str]]:
    """Which of the `wanted` (type, change, object id) arrived on their own subject after
    stream sequence `after`."""
    js, names = bus.jetstream(), stack.names
    arrived: set[tuple[str, str, str]] = set()
    for object_type, change in {(t, c) for t, c, _ in wanted}:
        subject = names.directory_event(tenant_id, object_type, change)  # type: ignore[arg-type]
        for event in await read_events(js, names.events_stream, subject, after):
            arrived.add((object_type, change, event["subject"]))
    return arrived & wanted


async def test_every_object_type_converges_through_full_and_delta_rounds(
    sim: SimulatorProcess, control: SimulatorControl, stack: ServiceStack, bus: NatsClient
) -> None:
    sim_tenant = sim.tenants[0]["tenant_id"]
    # Directory.Read.All reads every type but PIM's schedules
    # (rbacapplication-list-roleeligibilityschedules.md).
    schedules = READ_PERMISSIONS["roleEligibility"][0]
    control.set_permissions(
        sim_tenant, sim.tenants[0]["client_id"], ["Directory.Read.All", schedules]
    )
    # hourly: each later run is one the test asks for
    tenant = await register(bus, stack, sim.tenants[0], object_types=OBJECT_TYPES)

    def truth() -> dict[ObjectType, list[dict[str, Any]]]:
        return {t: control.truth(sim_tenant, t) for t in OBJECT_TYPES}

    async def converged() -> list[str]:
        return differences(await inventory(bus, stack, tenant.id), truth())

    async def first_run() -> dict | None:
        runs = list((await recorded(bus, stack, tenant.id)).values())
        return runs[0] if runs else None

    first = await eventually(first_run, "the first (full) run", within=120)
    assert first["status"] == "Succeeded", first
    before = truth()
    assert all(before[t] for t in OBJECT_TYPES), {t: len(before[t]) for t in OBJECT_TYPES}
    assert await converged() == []

    # One delta round with a change of every kind the new types have.
    role = next(
        r
        for r in before["directoryRole"]
        if "user" in r["memberTypes"].values() and len(r["members"]) < len(before["user"])
    )
    leaving = next(m for m, t in role["memberTypes"].items() if t == "user")
    joining = next(u["id"] for u in before["user"] if u["id"] not in role["members"])
    group = next(g for g in before["group"] if not g.get("isAssignableToRole"))
    sp_joining = next(
        s["id"] for s in before["servicePrincipal"] if s["id"] not in group["members"]
    )
    unit = before["administrativeUnit"][0]["id"]
    contact = before["orgContact"][0]["id"]
    app = before["application"][0]["id"]
    control.change_members(sim_tenant, role["id"], add=[joining], remove=[leaving])
    control.change_members(sim_tenant, group["id"], add=[sp_joining])
    control.delete(sim_tenant, "administrativeUnits", unit)
    control.delete(sim_tenant, "contacts", contact)
    control.update(sim_tenant, "applications", app, {"displayName": "Payroll (renamed)"})
    created = control.create(
        sim_tenant, "servicePrincipals", {"displayName": "New workload", "accountEnabled": True}
    )["id"]
    eligible = control.create(
        sim_tenant,
        "roleEligibility",
        {
            "principalId": joining,
            "roleDefinitionId": role["roleTemplateId"],
            "directoryScopeId": "/",
        },
    )["id"]
    ineligible = before["roleEligibility"][0]["id"]
    control.delete(sim_tenant, "roleEligibility", ineligible)
    checkpoint = await stream_last_seq(bus.jetstream(), stack.names.events_stream)

    await run_now(bus, stack, tenant.id)

    assert await converged() == []
    wanted = {
        ("servicePrincipal", "created", created),
        ("application", "updated", app),
        ("administrativeUnit", "deleted", unit),
        ("orgContact", "deleted", contact),
        ("directoryRole", "members_changed", role["id"]),
        ("group", "members_changed", group["id"]),
        ("roleEligibility", "created", eligible),
        ("roleEligibility", "deleted", ineligible),
    }
    assert await events_of(bus, stack, tenant.id, checkpoint, wanted) == wanted

    # The unit comes back from deleted items.
    control.restore(sim_tenant, "administrativeUnits", unit)
    checkpoint = await stream_last_seq(bus.jetstream(), stack.names.events_stream)

    await run_now(bus, stack, tenant.id)

    assert await converged() == []
    names = stack.names
    subject = names.directory_event(tenant.id, "administrativeUnit", "updated")
    events = await read_events(bus.jetstream(), names.events_stream, subject, checkpoint)
    assert [e["data"]["restored"] for e in events if e["subject"] == unit] == [True]

    # Effective membership (issue 20.4/5): the full sync's finish computed it; the API's
    # privileged view equals a brute-force closure of the truth.
    assert await privileged(bus, stack, tenant.id) == role_holders(truth())

    # A user joins the role-assignable group that holds Global Administrator. Entra nests no
    # group in a role-assignable group (groups-concept.md: "A group can't be added as a member of
    # a role-assignable group"; the simulator refuses it), so that group is the whole path.
    ga = next(r for r in truth()["directoryRole"] if r["roleTemplateId"] == GLOBAL_ADMINISTRATOR)
    holder = next(m for m, t in ga["memberTypes"].items() if t == "group")
    plain = next(g["id"] for g in truth()["group"] if not g.get("isAssignableToRole"))
    with pytest.raises(ControlError) as refused:
        control.change_members(sim_tenant, holder, add=[plain])
    assert refused.value.status == 400
    holds = role_holders(truth())[ga["id"]]
    user = next(u["id"] for u in truth()["user"] if u["id"] not in holds)
    control.change_members(sim_tenant, holder, add=[user])
    checkpoint = await stream_last_seq(bus.jetstream(), stack.names.events_stream)

    await run_now(bus, stack, tenant.id)

    every = names.effective_changed(tenant.id, "*")
    changed = await read_events(
        bus.jetstream(), names.events_stream, every, checkpoint, effective=True
    )
    assert [(e["subject"], e["data"]["lost"]) for e in changed] == [(user, [])]
    gained = {
        (m["container_type"], m["container_id"], m["role_template_id"], tuple(m["path"]))
        for m in changed[0]["data"]["gained"]
    }
    assert gained == {
        ("directoryRole", ga["id"], GLOBAL_ADMINISTRATOR, (ga["id"], holder)),
        ("group", holder, None, (holder,)),
    }
    view = await privileged(bus, stack, tenant.id)
    assert view[ga["id"]][user] == 2  # through the group
    assert view == role_holders(truth())


GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"


async def privileged(bus: NatsClient, stack: ServiceStack, tenant_id: str) -> Holders:
    """Each role's effective members by path length, as history's privileged.roles says."""
    subject = stack.names.api("history", "privileged.roles")
    roles = await call(bus, subject, PrivilegedRolesQuery(tenant_id=tenant_id), PrivilegedRoles)
    return {r.id: {m.id: len(m.path) for m in r.effective_members} for r in roles.items}


def role_holders(truth: dict[ObjectType, list[dict[str, Any]]]) -> Holders:
    """Brute force: each role's members and, breadth first through groups, theirs."""
    groups = {g["id"]: g["members"] for g in truth["group"]}
    found: Holders = {}
    for role in truth["directoryRole"]:
        depth: dict[str, int] = {}
        level, steps = list(role["members"]), 1
        while level:
            fresh = [m for m in dict.fromkeys(level) if m not in depth]
            depth.update(dict.fromkeys(fresh, steps))
            level = [m for g in fresh for m in groups.get(g, ())]
            steps += 1
        found[role["id"]] = depth
    return found
