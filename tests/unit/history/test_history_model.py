from dataclasses import replace
from datetime import timedelta

from entrasync_history.domain.events import change_event, event_id, recorded_event
from entrasync_history.domain.model import (
    Change,
    StoredObject,
    changed_attributes,
    content_hash,
    diff,
    mark_counted,
    observe,
    remove,
)
from entrasync_history.domain.plans import (
    GuardrailPolicy,
    guardrail_refusal,
    missing_batches,
    plan_batch,
    plan_reconciliation,
)
from entrasync_shared.messages import ObservedObject, SyncRecorded
from entrasync_shared.subjects import Names
from history_fakes import T0, TENANT, batch, finished, obj


def stored(object_id: str, run_id: str = "r0", members: frozenset[str] = frozenset(), **attrs):
    kind = "group" if object_id.startswith("g") else "user"
    return StoredObject(
        tenant_id=TENANT,
        object_type=kind,
        object_id=object_id,
        first_seen=T0,
        last_seen_run=run_id,
        last_seen_at=T0,
        attributes=attrs,
        members=members,
    )


def seen(current, observed: ObservedObject, run_id="r1", mode="delta", object_type="user"):
    return observe(
        current,
        observed,
        tenant_id=TENANT,
        object_type=object_type,
        run_id=run_id,
        mode=mode,
        seen_at=T0 + timedelta(hours=1),
        now=T0,
    )


def test_sparse_attributes_merge_into_the_stored_ones() -> None:
    before = stored("u1", displayName="Ann", city="Oslo")
    after = seen(before, obj("u1", city="Bergen"))
    assert dict(after.attributes) == {"displayName": "Ann", "city": "Bergen"}
    assert diff(before, after) == [Change("updated", "user", "u1", attributes={"city": "Bergen"})]


def test_an_unchanged_observation_changes_nothing() -> None:
    before = stored("u1", displayName="Ann")
    after = seen(before, obj("u1", displayName="Ann"))
    assert diff(before, after) == []
    assert after.content_hash == before.content_hash
    assert after.last_seen_run == "r1"


def test_a_new_group_is_created_then_gets_its_members() -> None:
    after = seen(None, obj("g1", ["u2", "u1"], displayName="Ops"), object_type="group")
    assert diff(None, after) == [
        Change("created", "group", "g1", attributes={"displayName": "Ops"}),
        Change("members_changed", "group", "g1", added=("u1", "u2")),
    ]


def test_member_changes_report_only_real_differences() -> None:
    before = stored("g1", members=frozenset({"u1", "u2"}))
    observed = ObservedObject(id="g1", members_added=("u1", "u3"), members_removed=("u2", "u9"))
    after = seen(before, observed, object_type="group")
    assert diff(before, after) == [
        Change("members_changed", "group", "g1", added=("u3",), removed=("u2",))
    ]


def test_a_full_run_confirms_members_across_batches() -> None:
    before = stored("g1", members=frozenset({"u1", "u2"}))
    first = seen(before, obj("g1", ["u1"]), mode="full", object_type="group")
    second = seen(first, obj("g1", ["u3"]), mode="full", object_type="group")
    assert second.confirmed_members == {"u1", "u3"}
    assert second.confirmed_run == "r1"
    plan = plan_reconciliation("r1", [], [second], T0, drop_members={"group"})
    assert plan.changes == (Change("members_changed", "group", "g1", removed=("u2",)),)


def test_deletions_soft_then_hard_then_restore() -> None:
    live = stored("u1", displayName="Ann")
    soft = remove(live, "soft", T0)
    assert diff(live, soft) == [Change("deleted", "user", "u1", soft=True)]
    hard = remove(soft, "hard", T0)
    assert diff(soft, hard) == [Change("deleted", "user", "u1", soft=False)]
    assert remove(hard, "soft", T0) is hard
    back = seen(hard, obj("u1", displayName="Anna"))
    assert back.live
    assert diff(hard, back) == [
        Change("updated", "user", "u1", attributes={"displayName": "Anna"}, restored=True)
    ]


def test_removing_an_unknown_object_emits_nothing() -> None:
    plan = plan_batch(batch("r1", "user", 0, removals=[("u9", "deleted")], mode="delta"), [], T0)
    assert plan.changes == () and plan.writes == ()


def test_a_hard_deleted_user_leaves_every_group() -> None:
    user = stored("u1")
    groups = [stored("g1", members=frozenset({"u1", "u2"})), stored("g2", members=frozenset())]
    plan = plan_batch(
        batch("r1", "user", 0, removals=[("u1", "deleted")], mode="delta"), [user, *groups], T0
    )
    assert plan.changes == (
        Change("members_changed", "group", "g1", removed=("u1",)),
        Change("deleted", "user", "u1", soft=False),
    )
    assert plan.tallies["group"].changed == 1 and plan.tallies["user"].deleted == 1


def test_a_group_repeated_in_a_batch_yields_one_event_per_kind() -> None:
    observed = [obj("g1", ["u1"], displayName="G"), obj("g1", ["u2"])]
    plan = plan_batch(batch("r1", "group", 0, observed), [], T0)
    assert [c.kind for c in plan.changes] == ["created", "members_changed"]
    assert plan.changes[1].added == ("u1", "u2")
    assert plan.tallies["group"].changed == 1


def test_an_object_counts_once_per_run() -> None:
    change = [Change("updated", "user", "u1")]
    first = mark_counted(stored("u1"), change, "r1")
    again = mark_counted(first.state, change, "r1")
    assert (first.changed, again.changed) == (True, False)
    assert mark_counted(again.state, change, "r2").changed


def test_changed_attributes_include_disappeared_ones_as_none() -> None:
    assert changed_attributes({"a": 1, "b": 2}, {"a": 1, "c": 3}) == {"b": None, "c": 3}


def test_content_hash_ignores_order() -> None:
    assert content_hash({"a": 1, "b": [1, 2]}, ["x", "y"]) == content_hash(
        {"b": [1, 2], "a": 1}, ["y", "x"]
    )
    assert content_hash({"a": 1}, []) != content_hash({"a": 2}, [])


def test_an_event_id_derives_from_the_object_and_its_change_not_from_the_batch() -> None:
    created = Change("created", "user", "u1", attributes={"displayName": "A"})
    assert event_id(TENANT, created, 0) == event_id(TENANT, replace(created), 0)
    assert event_id(TENANT, created, 0) != event_id("tenant-2", created, 0)
    assert event_id(TENANT, created, 0) != event_id(TENANT, replace(created, object_id="u2"), 0)
    assert event_id(TENANT, created, 0) != event_id(TENANT, replace(created, kind="updated"), 0)
    other = replace(created, attributes={"displayName": "B"})
    assert event_id(TENANT, created, 0) != event_id(TENANT, other, 0)
    # The same change again later (a member removed and added back) is a new event.
    added = Change("members_changed", "group", "g1", added=("u1",))
    assert event_id(TENANT, added, 3) != event_id(TENANT, added, 5)


def test_a_change_event_has_its_id_as_message_id() -> None:
    names = Names("p")
    change = Change("deleted", "device", "d1", soft=False)
    event = change_event(names, TENANT, "r1", change, T0, revision=2)
    assert event.subject == "p.entrasync.directory.tenant-1.device.deleted"
    assert event.msg_id == event.envelope.id == event_id(TENANT, change, 2)
    assert event.envelope.type == "io.entrasync.directory.device.deleted"
    assert event.envelope.source == "/entrasync/tenants/tenant-1"
    assert event.envelope.subject == "d1"


def test_sync_recorded_has_the_run_as_its_id() -> None:
    recorded = SyncRecorded(
        tenant_id=TENANT,
        run_id="r1",
        mode="full",
        reason="first",
        status="Succeeded",
        started_at=T0,
        finished_at=T0,
        types=(),
    )
    event = recorded_event(Names(), recorded)
    assert (event.msg_id, event.subject) == ("recorded:r1", "entrasync.sync.recorded.tenant-1")
    assert event.envelope.type == "io.entrasync.sync.recorded"


def test_the_guardrail_refuses_mass_deletes_of_big_types_only() -> None:
    policy = GuardrailPolicy(max_ratio=0.2, min_objects=10)
    assert guardrail_refusal("user", 2, 10, policy) is None
    refusal = guardrail_refusal("user", 3, 10, policy)
    assert refusal is not None and "3 of 10" in refusal
    assert guardrail_refusal("user", 9, 9, policy) is None


def test_missing_batches_are_reported_per_type() -> None:
    done = finished("r1", {"user": 2, "group": 1, "device": 0})
    applied = {("user", 1): 1, ("group", 1): 1}
    assert missing_batches(done.results, applied, 1) == {"user": (1, 2)}


def test_only_the_finishing_attempt_counts_towards_its_finish() -> None:
    done = finished("r1", {"user": 2}).model_copy(update={"attempt": 2})
    assert missing_batches(done.results, {("user", 1): 5, ("user", 2): 1}, 2) == {"user": (1, 2)}
    assert missing_batches(done.results, {("user", 1): 5, ("user", 2): 2}, 2) == {}
    assert missing_batches(done.results, {("user", 1): 1, ("user", 3): 2}, 2) == {"user": (0, 2)}


def test_a_later_sighting_keeps_members_from_the_sweep() -> None:
    group = replace(
        stored("g1", run_id="r2", members=frozenset({"u1"})),
        confirmed_run="r1",
        confirmed_members=frozenset(),
    )
    plan = plan_reconciliation("r1", [], [group], T0, drop_members={"group"})
    assert plan.changes == ()
