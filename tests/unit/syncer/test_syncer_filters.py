import pytest
from entrasync_shared.messages import ObservedObject, StartSync, TenantFilters
from entrasync_syncer.domain import full_round_url
from entrasync_syncer.domain.filters import FilterTally, Scope
from entrasync_syncer.usecases.sync import sync_tenant
from syncer_fakes import GRAPH, Fakes, credential

USERS = full_round_url(GRAPH, "user")
GROUPS = full_round_url(GRAPH, "group")
DEVICES = full_round_url(GRAPH, "device")
SCOPE_GROUP = "0f8fad5b-d9cb-469f-a165-70867728950e"
IN_SCOPE = "11111111-1111-4111-8111-111111111111"
OUT_OF_SCOPE = "22222222-2222-4222-8222-222222222222"


def obj(object_id: str, **attributes: object) -> ObservedObject:
    return ObservedObject(id=object_id, attributes=attributes)


def command(mode: str = "full", types: tuple[str, ...] = ("user",)) -> StartSync:
    return StartSync(
        run_id="run1",
        tenant_id="t1",
        mode=mode,  # type: ignore[arg-type]
        reason="schedule",
        object_types=types,  # type: ignore[arg-type]
    )


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


def with_filters(fakes: Fakes, **filters: object) -> None:
    tenant = credential("t1").model_copy(update={"filters": TenantFilters(**filters)})  # type: ignore[arg-type]
    fakes.credentials.known["t1"] = tenant


# -- pure decisions -----------------------------------------------------------------------------


def test_guests_and_disabled_accounts_are_judged_case_insensitively() -> None:
    scope = Scope(TenantFilters(exclude_guests=True, exclude_disabled=True))

    assert not scope.admits("user", obj("u1", userType="Guest"))
    assert not scope.admits("user", obj("u2", userType="guest", accountEnabled=True))
    assert not scope.admits("user", obj("u3", userType="Member", accountEnabled=False))
    assert not scope.admits("device", obj("d1", accountEnabled=False))
    assert scope.admits("user", obj("u4", userType="Member", accountEnabled=True))
    assert scope.admits("group", obj("g1", accountEnabled=False))


def test_a_sparse_update_without_the_filtered_property_passes() -> None:
    scope = Scope(TenantFilters(exclude_guests=True, exclude_disabled=True))

    assert scope.admits("user", obj("u1", jobTitle="Chief"))


def test_a_group_scope_admits_its_members_and_the_scope_groups_themselves() -> None:
    scope = Scope(
        TenantFilters(member_of_groups=(SCOPE_GROUP,)),
        frozenset({int(IN_SCOPE.replace("-", ""), 16)}),
    )

    assert scope.admits("user", obj(IN_SCOPE))
    assert not scope.admits("user", obj(OUT_OF_SCOPE))
    assert scope.admits("group", obj(SCOPE_GROUP))
    assert not scope.admits("device", obj(OUT_OF_SCOPE))


def test_no_filters_means_no_digest_and_every_change_of_scope_changes_it() -> None:
    plain = Scope()
    guests = Scope(TenantFilters(exclude_guests=True))
    scoped = Scope(TenantFilters(member_of_groups=(SCOPE_GROUP,)), frozenset({"a"}))
    grown = Scope(TenantFilters(member_of_groups=(SCOPE_GROUP,)), frozenset({"a", "b"}))

    assert plain.digest == "" and not plain.active
    assert len({guests.digest, scoped.digest, grown.digest}) == 3


def test_filtered_objects_are_dropped_in_full_rounds_and_removed_in_delta_rounds() -> None:
    scope = Scope(TenantFilters(exclude_guests=True))
    tally = FilterTally()
    removals: list = []

    kept = tally.apply(scope, "user", "full", [obj("u1", userType="Guest"), obj("u2")], removals)
    assert [o.id for o in kept] == ["u2"] and removals == []

    kept = tally.apply(scope, "user", "delta", [obj("u3", userType="Guest")], removals)
    assert kept == [] and [(r.id, r.reason) for r in removals] == [("u3", "changed")]
    assert tally.count == 2


# -- through the flow ---------------------------------------------------------------------------


async def test_a_full_run_leaves_guests_out_and_counts_them(fakes: Fakes) -> None:
    with_filters(fakes, exclude_guests=True)
    fakes.graph.serve(
        USERS,
        [
            {"id": "u1", "userType": "Member"},
            {"id": "u2", "userType": "Guest"},
            {"id": "u2", "userType": "Guest"},
        ],
    )

    finished = await sync_tenant(command(), fakes.deps())

    (batch,) = fakes.publisher.batches()
    assert [o.id for o in batch.objects] == ["u1"] and batch.removals == ()
    (result,) = finished.results
    assert (result.total, result.filtered) == (1, 1)


async def test_a_delta_run_removes_an_account_that_was_disabled(fakes: Fakes) -> None:
    with_filters(fakes, exclude_disabled=True)
    fakes.graph.serve(USERS, [{"id": "u1", "accountEnabled": True}])
    await sync_tenant(command(), fakes.deps())
    link = fakes.cursors.links[("t1", "user")]
    fakes.graph.serve(link, [{"id": "u1", "accountEnabled": False}])

    finished = await sync_tenant(command("delta"), fakes.deps())

    batch = fakes.publisher.batches()[-1]
    assert batch.mode == "delta" and batch.objects == ()
    assert [(r.id, r.reason) for r in batch.removals] == [("u1", "changed")]
    assert (finished.results[0].filtered, finished.results[0].deleted) == (1, 0)


async def test_the_group_scope_is_read_afresh_and_a_changed_scope_forces_full_rounds(
    fakes: Fakes,
) -> None:
    with_filters(fakes, member_of_groups=(SCOPE_GROUP,))
    members = f"{GRAPH}/v1.0/groups/{SCOPE_GROUP}/members?$select=id&$top=999"
    fakes.graph.serve(members, [{"id": IN_SCOPE}], next_url="members-2")
    fakes.graph.pages["members-2"] = {"value": []}
    fakes.graph.serve(USERS, [{"id": IN_SCOPE}, {"id": OUT_OF_SCOPE}])

    first = await sync_tenant(command("delta"), fakes.deps())

    assert fakes.graph.requested[:2] == [members, "members-2"]
    assert [o.id for o in fakes.publisher.batches()[0].objects] == [IN_SCOPE]
    assert (first.results[0].total, first.results[0].filtered) == (1, 1)

    link = fakes.cursors.links[("t1", "user")]
    fakes.graph.serve(link, [])
    again = await sync_tenant(command("delta"), fakes.deps())
    assert (again.results[0].mode, fakes.graph.requested[-1]) == ("delta", link)

    fakes.graph.serve(members, [{"id": IN_SCOPE}, {"id": OUT_OF_SCOPE}], next_url="members-2")
    grown = await sync_tenant(command("delta"), fakes.deps())
    assert (grown.results[0].mode, grown.results[0].reason) == ("full", "resync")
    assert grown.results[0].total == 2


async def test_an_unreadable_scope_group_fails_the_run_instead_of_emptying_it(
    fakes: Fakes,
) -> None:
    with_filters(fakes, member_of_groups=(SCOPE_GROUP,))

    finished = await sync_tenant(command(types=("user", "device")), fakes.deps())

    assert [r.status for r in finished.results] == ["Failed", "Failed"]
    assert SCOPE_GROUP in (finished.results[0].error or "")
    assert fakes.publisher.batches() == []
    assert fakes.cursors.links == {}
