"""The syncer's entry points: they follow the catalog, and a command's outcome maps to the ack
decision (ack, nak with a growing delay, terminate after the last delivery, park a bug)."""

from __future__ import annotations

from entrasync_shared import catalog
from entrasync_shared.kit.consumers import Delivery, Later, Park, Terminate
from entrasync_shared.messages import StartSync
from entrasync_shared.subjects import Names
from entrasync_syncer.adapters.deletions import DeletedTenants
from entrasync_syncer.domain import Redelivery, full_round_url
from entrasync_syncer.entrypoints.api import api
from entrasync_syncer.entrypoints.commands import commands, on_start_sync
from entrasync_syncer.entrypoints.deletions import tenant_deleted
from entrasync_syncer.entrypoints.deps import SyncerDeps
from entrasync_syncer.ports import Lease
from faststream.nats import NatsBroker
from syncer_fakes import GRAPH, FakeLeases, Fakes, credential

POLICY = Redelivery(max_deliver=4, max_failed_deliveries=2, nak_delay=5.0, nak_delay_cap=12.0)


class BuggyLeases(FakeLeases):
    async def acquire(self, tenant_id: str, run_id: str) -> Lease:
        raise ZeroDivisionError("division by zero")


def command() -> StartSync:
    return StartSync(
        run_id="run1", tenant_id="t1", mode="full", reason="flag", object_types=("user",)
    )


def entry(fakes: Fakes) -> SyncerDeps:
    return SyncerDeps(fakes.deps(), POLICY, DeletedTenants(), lambda: True)


def delivery(attempt: int) -> Delivery:
    return Delivery("entrasync.sync.command.t1", 7, attempt)


def fakes_for_t1() -> Fakes:
    fakes = Fakes()
    fakes.credentials.known["t1"] = credential("t1")
    fakes.graph.serve(full_round_url(GRAPH, "user"), [{"id": "u1"}])
    return fakes


def test_the_syncer_answers_exactly_its_catalog_endpoints_and_reads_its_durable() -> None:
    api.check()
    broker, names = NatsBroker(), Names("t1")

    commands.attach(broker, names, lambda: None, keepalive=1.0, ack_wait=3.0)
    tenant_deleted.attach(broker, names, lambda: None)
    api.attach(broker, names, lambda: None)

    subjects = {s.subject.broker_address for s in broker.subscribers}
    assert {e.subject(names) for e in catalog.endpoints("syncer")} <= subjects
    assert {names.sync_commands, names.tenant_event("deleted")} <= subjects
    assert commands.durable == catalog.durable("syncer", "commands")
    assert not tenant_deleted.parks  # history's durable parks an unreadable tenant.deleted


async def test_a_finished_or_repeated_command_is_acked() -> None:
    fakes = fakes_for_t1()

    assert await on_start_sync(command(), entry(fakes), delivery(1)) is None
    assert await on_start_sync(command(), entry(fakes), delivery(2)) is None  # RunAlreadyDone
    assert fakes.publisher.finished_event.status == "Succeeded"


async def test_a_busy_tenant_is_retried_later_and_given_up_after_the_last_delivery() -> None:
    fakes = fakes_for_t1()
    fakes.leases.held_by["t1"] = "other-run"

    assert await on_start_sync(command(), entry(fakes), delivery(1)) == Later(5.0)
    assert await on_start_sync(command(), entry(fakes), delivery(3)) == Later(12.0)  # capped
    assert fakes.publisher.log == []
    assert await on_start_sync(command(), entry(fakes), delivery(4)) == Terminate()
    failed = fakes.publisher.finished_event
    assert failed.status == "Failed"
    assert (failed.results[0].error or "").startswith("abandoned after 4 attempts: ")


async def test_a_bug_is_retried_up_to_the_limit_then_its_run_fails_and_it_is_parked() -> None:
    fakes = fakes_for_t1()
    fakes.leases = BuggyLeases()

    assert await on_start_sync(command(), entry(fakes), delivery(1)) == Later(5.0)
    outcome = await on_start_sync(command(), entry(fakes), delivery(2))

    assert outcome == Park("failed 2 times: ZeroDivisionError: division by zero")
    assert fakes.publisher.finished_event.results[0].error == "failed 2 times: ZeroDivisionError"
