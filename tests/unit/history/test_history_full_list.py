"""A type without delta (`FULL_LIST_TYPES`: PIM's eligible role assignments, issue 20.1) is read
whole on every run, so the syncer reports it as a full round even in a delta run: history diffs
it like any full round and its finish sweeps the schedules the list no longer holds, while the
run's delta types keep what their rounds did not mention."""

from datetime import timedelta

from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.usecases.pipeline import (
    Context,
    apply_batch,
    record_finished,
    record_started,
)
from entrasync_shared.messages import ObservedObject, SyncFinished
from entrasync_shared.subjects import Names
from history_fakes import T0, TENANT, FakeEventPublisher, FakeHistoryStore, batch, finished, started

S = timedelta(seconds=1)
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"


def schedule(schedule_id: str, principal: str, status: str = "Provisioned") -> ObservedObject:
    return ObservedObject(
        id=schedule_id,
        attributes={"principalId": principal, "roleDefinitionId": GLOBAL_ADMIN, "status": status},
    )


def user(user_id: str) -> ObservedObject:
    return ObservedObject(id=user_id, attributes={"displayName": user_id.upper()})


def with_eligibility_full(done: SyncFinished) -> SyncFinished:
    """The finish of a delta run as the syncer sends it: the eligibility round is full."""
    results = tuple(
        r.model_copy(update={"mode": "full"}) if r.object_type == "roleEligibility" else r
        for r in done.results
    )
    return done.model_copy(update={"results": results})


def directory_events(events: FakeEventPublisher) -> list[tuple[str, str]]:
    found = sorted(
        (e.subject.removeprefix(f"entrasync.directory.{TENANT}."), e.envelope.subject)
        for e in events.events
        if ".directory." in e.subject
    )
    events.events = []
    return found


async def test_a_delta_run_sweeps_the_eligibility_schedules_its_full_list_no_longer_holds() -> None:
    store, events = FakeHistoryStore(), FakeEventPublisher()
    ctx = Context(store, events, Names(), GuardrailPolicy(0.2, 10), 3)
    await record_started(ctx, started("r1", "full", at=T0))
    await apply_batch(ctx, batch("r1", "user", 0, [user("u1"), user("u2")], at=T0 + S), T0 + S)
    first = [schedule("s1", "u1"), schedule("s2", "u2"), schedule("s3", "u2")]
    await apply_batch(ctx, batch("r1", "roleEligibility", 0, first, at=T0 + S), T0 + S)
    await record_finished(ctx, finished("r1", {"user": 1, "roleEligibility": 1}), 1, T0 + 2 * S)
    assert [s for s in directory_events(events) if s[0].startswith("roleEligibility")] == [
        ("roleEligibility.created", "s1"),
        ("roleEligibility.created", "s2"),
        ("roleEligibility.created", "s3"),
    ]

    at = T0 + 10 * S
    await record_started(ctx, started("r2", "delta", at=at))
    await apply_batch(ctx, batch("r2", "user", 0, [], mode="delta", at=at + S), at + S)
    listed = [schedule("s1", "u1", status="Revoked"), schedule("s4", "u1")]
    await apply_batch(ctx, batch("r2", "roleEligibility", 0, listed, at=at + S), at + S)
    done = finished("r2", {"user": 1, "roleEligibility": 1}, "delta", at)
    recorded = await record_finished(ctx, with_eligibility_full(done), 1, at + 2 * S)

    assert recorded is not None and recorded.status == "Succeeded"
    assert directory_events(events) == [
        ("roleEligibility.created", "s4"),
        ("roleEligibility.deleted", "s2"),
        ("roleEligibility.deleted", "s3"),
        ("roleEligibility.updated", "s1"),
    ]
    live = {k[1] for k, o in store.objects.items() if k[0] == "roleEligibility" and o.live}
    assert live == {"s1", "s4"}
    assert {k[1] for k, o in store.objects.items() if k[0] == "user" and o.live} == {"u1", "u2"}
