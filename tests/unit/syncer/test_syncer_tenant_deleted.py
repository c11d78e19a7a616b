"""A tenant deleted while its run is in progress: the run stops at the next page, publishes
nothing more and is finished as Cancelled (issue 18, defect 3)."""

from dataclasses import replace

import pytest
from entrasync_shared.messages import StartSync, SyncFinished
from entrasync_syncer.domain import full_round_url
from entrasync_syncer.usecases.sync import TENANT_DELETED, sync_tenant
from syncer_fakes import GRAPH, Fakes, credential

USERS = full_round_url(GRAPH, "user")
GROUPS = full_round_url(GRAPH, "group")


def command(types: tuple[str, ...] = ("user",)) -> StartSync:
    return StartSync(
        run_id="run1", tenant_id="t1", mode="full", reason="schedule", object_types=types
    )


@pytest.fixture
def fakes() -> Fakes:
    fakes = Fakes()
    fakes.credentials.known["t1"] = credential("t1")
    fakes.deletions.graph = fakes.graph
    return fakes


async def test_a_tenant_deleted_mid_run_gets_no_further_page_read_nor_published(
    fakes: Fakes,
) -> None:
    fakes.graph.serve(USERS, [{"id": "u1"}], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u2"}], next_url="p3")
    fakes.graph.serve("p3", [{"id": "u3"}])
    fakes.deletions.after_pages = 2  # config deletes the tenant while page 2 is being read
    fakes.options = replace(fakes.options, max_batch_bytes=1)  # every page its own batch

    finished = await sync_tenant(command(), fakes.deps())

    assert [o.id for b in fakes.publisher.batches() for o in b.objects] == ["u1"]
    assert fakes.graph.requested == [USERS, "p2"]
    assert finished.status == "Cancelled"
    assert [(r.status, r.error) for r in finished.results] == [("Cancelled", TENANT_DELETED)]
    assert fakes.cursors.links == {}  # the half-read round left no deltaLink behind


async def test_pages_held_to_share_a_batch_are_not_published_once_the_tenant_is_deleted(
    fakes: Fakes,
) -> None:
    fakes.graph.serve(USERS, [{"id": "u1"}], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u2"}], next_url="p3")
    fakes.graph.serve("p3", [{"id": "u3"}])
    fakes.deletions.after_pages = 2

    finished = await sync_tenant(command(), fakes.deps())

    assert fakes.publisher.batches() == []
    assert finished.status == "Cancelled"


async def test_every_type_of_the_run_stops_when_its_tenant_is_deleted(fakes: Fakes) -> None:
    fakes.graph.serve(USERS, [{"id": "u1"}], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u2"}])
    fakes.graph.serve(GROUPS, [{"id": "g1"}], next_url="g2")
    fakes.graph.serve("g2", [{"id": "g2"}])
    fakes.deletions.after_pages = 2

    finished = await sync_tenant(command(("user", "group")), fakes.deps())

    assert len(fakes.graph.requested) <= 3
    assert [r.status for r in finished.results] == ["Cancelled", "Cancelled"]
    assert fakes.cursors.links == {}


async def test_a_command_for_a_tenant_known_deleted_reads_nothing(fakes: Fakes) -> None:
    fakes.graph.serve(USERS, [{"id": "u1"}])
    fakes.deletions.ids.add("t1")

    finished = await sync_tenant(command(), fakes.deps())

    assert [type(m) for m in fakes.publisher.log] == [SyncFinished]
    assert fakes.graph.requested == [] and fakes.tokens.issued == 0
    assert finished.results[0].error == TENANT_DELETED


async def test_other_tenants_runs_are_not_stopped(fakes: Fakes) -> None:
    fakes.graph.serve(USERS, [{"id": "u1"}], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u2"}])
    fakes.deletions.ids.add("t2")

    finished = await sync_tenant(command(), fakes.deps())

    assert finished.status == "Succeeded"
    assert [o.id for b in fakes.publisher.batches() for o in b.objects] == ["u1", "u2"]
