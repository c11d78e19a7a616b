"""A group's members are typed references (issue 17, point 4): users, groups, devices, service
principals and organisational contacts (group-delta.md), kept in the inventory and in
`members_changed` events; members stored before types were kept read as `unknown`."""

from datetime import timedelta

from entrasync_history.adapters.documents import (
    inventory_item,
    object_document,
    stored_object,
)
from entrasync_history.domain.model import StoredObject, diff, observe
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.usecases.pipeline import Context, apply_batch
from entrasync_shared.members import MemberRef
from entrasync_shared.messages import MembersChanged, ObservedObject
from entrasync_shared.subjects import Names
from history_fakes import T0, TENANT, FakeEventPublisher, FakeHistoryStore, batch

H = timedelta(hours=1)


def group(added=(), codes="", removed=(), removed_codes="") -> ObservedObject:
    return ObservedObject(
        id="g1",
        attributes={"displayName": "G"},
        members_added=tuple(added),
        members_added_types=codes,
        members_removed=tuple(removed),
        members_removed_types=removed_codes,
    )


def seen(current: StoredObject | None, observed: ObservedObject, mode="delta") -> StoredObject:
    return observe(
        current,
        observed,
        tenant_id=TENANT,
        object_type="group",
        run_id="r1",
        mode=mode,
        seen_at=T0 + H,
        now=T0,
    )


def refs(obj: StoredObject) -> set[tuple[str, str]]:
    return {(kind, m) for m, kind in obj.typed_members().items()}


def test_a_group_keeps_each_members_type_and_stores_only_the_non_user_ones() -> None:
    after = seen(None, group(["u1", "sp1", "c1", "d1", "g0"], "uscdg"), mode="full")

    assert refs(after) == {
        ("user", "u1"),
        ("servicePrincipal", "sp1"),
        ("orgContact", "c1"),
        ("device", "d1"),
        ("group", "g0"),
    }
    assert dict(after.member_types) == {
        "sp1": "servicePrincipal",
        "c1": "orgContact",
        "d1": "device",
        "g0": "group",
    }


def test_members_changed_carries_the_typed_members_added_and_removed() -> None:
    before = seen(None, group(["u1", "sp1"], "us"), mode="full")

    after = seen(before, group(["c1"], "c", removed=["sp1"], removed_codes="s"))

    change = diff(before, after)[-1]
    assert (change.added, change.added_types) == (("c1",), ("orgContact",))
    assert (change.removed, change.removed_types) == (("sp1",), ("servicePrincipal",))
    assert "sp1" not in after.member_types


def test_the_inventory_document_round_trips_the_types_and_the_api_shows_them() -> None:
    obj = seen(None, group(["u1", "sp1", "c1"], "usc"), mode="full")

    doc = object_document(obj, T0)
    item = inventory_item(doc)

    assert stored_object(doc).member_types == obj.member_types
    assert set(item.member_refs) == {
        MemberRef(type="user", id="u1"),
        MemberRef(type="servicePrincipal", id="sp1"),
        MemberRef(type="orgContact", id="c1"),
    }


def test_a_group_stored_before_types_reads_as_unknown_members_until_seen_again() -> None:
    doc = object_document(seen(None, group(["u1", "sp1"], "us"), mode="full"), T0)
    for field in ("member_types", "member_default"):
        doc.pop(field)

    old = stored_object(doc)
    assert {r.type for r in inventory_item(doc).member_refs} == {"unknown"}

    again = seen(old, group(["u1", "sp1"], "us"), mode="full")
    assert refs(again) == {("user", "u1"), ("servicePrincipal", "sp1")}
    assert diff(old, again) == []  # types are no public change
    # All typed again: stored compactly, users by default.
    assert (again.member_default, dict(again.member_types)) == ("user", {"sp1": "servicePrincipal"})


def test_a_batch_without_types_does_not_forget_known_ones() -> None:
    before = seen(None, group(["sp1"], "s"), mode="full")

    after = seen(before, group(["sp1", "x1"]))

    assert refs(after) == {("servicePrincipal", "sp1"), ("unknown", "x1")}


async def test_events_and_the_store_carry_typed_members_and_a_hard_delete_leaves_groups() -> None:
    store, events = FakeHistoryStore(), FakeEventPublisher()
    ctx = Context(store, events, Names(), GuardrailPolicy(0.9, 10), finish_max_waits=3)
    await apply_batch(ctx, batch("r1", "group", 0, [group(["u1", "sp1", "c1"], "usc")]), T0)

    data = events.events[-1].envelope.data
    assert isinstance(data, MembersChanged)
    assert set(data.added_members) == {
        MemberRef(type="user", id="u1"),
        MemberRef(type="servicePrincipal", id="sp1"),
        MemberRef(type="orgContact", id="c1"),
    }
    assert [(r.id, r.type) for r in data.added_members] == [
        (m, store.objects[("group", "g1")].member_type(m)) for m in data.added
    ]

    removal = batch("r2", "user", 0, removals=[("u1", "deleted")], mode="delta")
    await apply_batch(ctx, removal, T0 + H)

    assert store.objects[("group", "g1")].members == {"sp1", "c1"}
    data = events.events[-1].envelope.data
    assert isinstance(data, MembersChanged)
    assert data.removed_members == (MemberRef(type="user", id="u1"),)
