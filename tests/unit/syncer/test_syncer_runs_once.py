"""One run per tenant at a time, and a run is never repeated: the lease around `sync_tenant`."""

import asyncio

import pytest
from entrasync_shared.messages import ObservationBatch, StartSync, SyncFinished
from entrasync_syncer.domain import full_round_url
from entrasync_syncer.ports import DeltaPage, InfrastructureError, LeaseHeld, RunAlreadyDone
from entrasync_syncer.usecases.command import run_command
from syncer_fakes import GRAPH, Fakes, credential

USERS = full_round_url(GRAPH, "user")


def command(run_id: str = "run1") -> StartSync:
    return StartSync(
        run_id=run_id, tenant_id="t1", mode="full", reason="flag", object_types=("user",)
    )


@pytest.fixture
def fakes() -> Fakes:
    fakes = Fakes()
    fakes.credentials.known["t1"] = credential("t1")
    fakes.graph.serve(USERS, [{"id": "u1"}])
    return fakes


async def test_a_finished_run_is_remembered_and_its_redelivery_is_not_repeated(
    fakes: Fakes,
) -> None:
    finished = await run_command(command(), fakes.deps(), attempt=1)

    assert finished.status == "Succeeded"
    assert fakes.leases.leases["t1"] == ("run1", "done")
    with pytest.raises(RunAlreadyDone):
        await run_command(command(), fakes.deps(), attempt=2)
    assert fakes.graph.requested == [USERS]


async def test_a_run_waits_for_the_tenant_then_gives_the_command_back(fakes: Fakes) -> None:
    fakes.leases.held_by["t1"] = "other-run"

    with pytest.raises(LeaseHeld, match="other-run"):
        await run_command(command(), fakes.deps())

    assert fakes.publisher.log == [] and fakes.graph.requested == []


async def test_a_run_starts_as_soon_as_the_other_one_lets_go(fakes: Fakes) -> None:
    fakes.leases.held_by["t1"] = "other-run"

    async def other_run_ends() -> None:
        await asyncio.sleep(0.08)
        del fakes.leases.held_by["t1"]

    ending = asyncio.create_task(other_run_ends())
    finished = await run_command(command(), fakes.deps())
    await ending

    assert finished.status == "Succeeded"


async def test_a_failed_attempt_gives_the_tenant_back_for_the_retry(fakes: Fakes) -> None:
    fakes.publisher.fail_batches = True

    with pytest.raises(InfrastructureError):
        await run_command(command(), fakes.deps())

    assert "t1" not in fakes.leases.leases
    fakes.publisher.fail_batches = False
    finished = await run_command(command(), fakes.deps(), attempt=2)
    assert finished.attempt == 2
    assert [b.attempt for b in fakes.publisher.batches()] == [2]


def slow_pages(fakes: Fakes) -> None:
    """Pages take a while, so the lease is renewed (or lost) during the run."""
    original = fakes.graph.page

    async def page(url: str, token: object, stats: object = None) -> DeltaPage:
        await asyncio.sleep(0.2)
        return await original(url, token, stats)  # type: ignore[arg-type]

    fakes.graph.page = page  # type: ignore[method-assign]


async def test_a_long_run_renews_its_lease(fakes: Fakes) -> None:
    slow_pages(fakes)

    await run_command(command(), fakes.deps())

    assert fakes.leases.renewals >= 2


async def test_a_run_whose_lease_was_taken_over_stops_without_finishing(fakes: Fakes) -> None:
    slow_pages(fakes)
    fakes.leases.lose_on_renew = True

    with pytest.raises(InfrastructureError, match="taken over"):
        await run_command(command(), fakes.deps())

    assert not any(isinstance(m, SyncFinished | ObservationBatch) for m in fakes.publisher.log)
    assert ("t1", "user") not in fakes.cursors.links
