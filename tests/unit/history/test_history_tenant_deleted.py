"""A deleted tenant stays deleted: once history heard of the deletion, no batch or run event of
the tenant changes anything (each is dropped and counted), its run stays Cancelled, and a purge
is final: the sweep erases what a message in flight at the purge still wrote (issue 18,
defect 3)."""

from __future__ import annotations

from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.entrypoints.deps import Deps
from entrasync_history.entrypoints.pipeline import pipeline
from entrasync_history.entrypoints.tenant_deleted import tenant_deleted
from entrasync_history.usecases import deletions
from entrasync_history.usecases import pipeline as services
from entrasync_history.usecases.pipeline import TENANT_DELETED, Context
from entrasync_shared.messages import SyncFinished, SyncStarted, TenantDeleted
from entrasync_shared.subjects import Names
from history_fakes import (
    T0,
    TENANT,
    FakeDeadLetters,
    FakeEventPublisher,
    FakeHistoryQueries,
    FakeHistoryStore,
    FakeJsMessage,
    batch,
    deliver_to,
    finished,
    obj,
    started,
)

NAMES = Names("p")


def make_deps() -> tuple[Deps, FakeHistoryStore, FakeEventPublisher]:
    store, publisher = FakeHistoryStore(), FakeEventPublisher()
    ctx = Context(store, publisher, NAMES, GuardrailPolicy(), 2)
    deps = Deps(NAMES, ctx, store, FakeHistoryQueries(), FakeDeadLetters(), 2.0, 0.5)
    return deps, store, publisher


async def deliver(deps: Deps, message: SyncStarted | SyncFinished | object) -> FakeJsMessage:
    if isinstance(message, SyncStarted):
        subject = NAMES.run_event(message.tenant_id, "started")
    elif isinstance(message, SyncFinished):
        subject = NAMES.run_event(message.tenant_id, "finished")
    else:
        subject = NAMES.observed(TENANT, "user")
    msg = FakeJsMessage(subject, message.model_dump_json().encode())  # type: ignore[attr-defined]
    await deliver_to(pipeline, deps, msg)
    return msg


async def delete(deps: Deps, *, purge: bool) -> None:
    event = TenantDeleted(tenant_id=TENANT, purge_history=purge)
    msg = FakeJsMessage(NAMES.tenant_event("deleted"), event.model_dump_json().encode())
    await deliver_to(tenant_deleted, deps, msg)
    assert msg.decision == ("ack", None)


async def test_after_a_deletion_the_tenants_batches_and_run_events_are_dropped_and_counted() -> (
    None
):
    deps, store, publisher = make_deps()
    await deliver(deps, started("r1"))
    await deliver(deps, batch("r1", "user", 0, [obj("u1", displayName="Ada")]))
    publisher.take()

    await delete(deps, purge=False)
    late = [
        batch("r1", "user", 1, [obj("u2", displayName="Bob")]),
        finished("r1", {"user": 2}),
        started("r2"),
    ]
    msgs = [await deliver(deps, message) for message in late]

    assert [m.decision for m in msgs] == [("ack", None)] * 3
    assert deps.stats.dropped == 3
    assert publisher.take() == []
    assert set(store.objects) == {("user", "u1")}  # kept for audit, nothing added
    assert store.cancelled == {"r1": TENANT_DELETED}  # and the late finish did not replace it
    assert store.runs == {} and "r2" not in store.started


async def test_a_purge_is_final_and_a_late_batch_brings_nothing_back() -> None:
    deps, store, publisher = make_deps()
    await deliver(deps, started("r1"))
    await deliver(deps, batch("r1", "user", 0, [obj("u1", displayName="Ada")]))

    await delete(deps, purge=True)
    await deliver(deps, batch("r1", "user", 1, [obj("u2", displayName="Bob")]))
    await deliver(deps, finished("r1", {"user": 2}))

    assert store.objects == {} and store.runs == {} and store.started == {}
    assert await deletions.is_buried(deps.ctx, TENANT)
    assert deps.stats.dropped == 2


async def test_the_sweep_erases_what_a_message_in_flight_wrote_after_the_purge() -> None:
    deps, store, _ = make_deps()
    await delete(deps, purge=True)
    # A batch that passed the tombstone check just before the deletion commits after the purge.
    straggler = batch("r1", "user", 1, [obj("u2", displayName="Bob")])
    await services.apply_batch(deps.ctx, straggler, T0)
    assert set(store.objects) == {("user", "u2")}

    assert await deletions.sweep_purged(deps.ctx) == {TENANT: 1}
    assert store.objects == {}
    assert await deletions.sweep_purged(deps.ctx) == {}


async def test_a_tenant_deleted_with_its_history_kept_is_not_swept() -> None:
    deps, store, _ = make_deps()
    await deliver(deps, batch("r1", "user", 0, [obj("u1", displayName="Ada")]))
    await delete(deps, purge=False)

    assert await deletions.sweep_purged(deps.ctx) == {}
    assert set(store.objects) == {("user", "u1")}


async def test_other_tenants_messages_still_apply() -> None:
    deps, store, _ = make_deps()
    event = TenantDeleted(tenant_id="another-tenant", purge_history=True)
    msg = FakeJsMessage(NAMES.tenant_event("deleted"), event.model_dump_json().encode())
    await deliver_to(tenant_deleted, deps, msg)

    await deliver(deps, batch("r1", "user", 0, [obj("u1", displayName="Ada")]))

    assert set(store.objects) == {("user", "u1")} and deps.stats.dropped == 0
