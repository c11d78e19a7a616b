"""An object Graph returns with something MongoDB cannot store fails its type's round, with the
reason; it is neither published (history would refuse it) nor silently dropped (a full round
would then report it deleted)."""

import pytest
from entrasync_shared.messages import StartSync
from entrasync_syncer.domain import full_round_url
from entrasync_syncer.usecases.sync import sync_tenant
from syncer_fakes import GRAPH, Fakes, credential

USERS = full_round_url(GRAPH, "user")
GROUPS = full_round_url(GRAPH, "group")


@pytest.fixture
def fakes() -> Fakes:
    fakes = Fakes()
    fakes.credentials.known["t1"] = credential("t1")
    return fakes


def full_run(*types: str) -> StartSync:
    return StartSync(
        run_id="run1",
        tenant_id="t1",
        mode="full",
        reason="schedule",
        object_types=types,  # type: ignore[arg-type]
    )


async def test_a_key_with_a_nul_fails_the_round_and_keeps_the_cursor(fakes: Fakes) -> None:
    fakes.graph.serve(USERS, [{"id": "u1", "displayName": "Ada"}], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u2", "extension_x": {"bad\x00key": 1}}])
    fakes.graph.serve(GROUPS, [{"id": "g1"}])

    finished = await sync_tenant(full_run("user", "group"), fakes.deps())

    users, groups = finished.results
    assert (users.status, groups.status) == ("Failed", "Succeeded")
    assert users.error == (
        "Graph returned user 'u2' with attributes that cannot be stored "
        "(at extension_x: key 'bad\\x00key' holds a NUL character)"
    )
    published = [o.id for b in fakes.publisher.batches() for o in b.objects]
    assert sorted(published) == ["g1", "u1"]  # the page read before the failure went out
    assert ("t1", "user") not in fakes.cursors.links and ("t1", "group") in fakes.cursors.links


async def test_a_number_beyond_64_bits_fails_the_round(fakes: Fakes) -> None:
    fakes.graph.serve(USERS, [{"id": "u1", "employeeNumber": 2**64}])

    finished = await sync_tenant(full_run("user"), fakes.deps())

    (users,) = finished.results
    assert users.status == "Failed" and "integer 18446744073709551616 exceeds 64 bits" in (
        users.error or ""
    )
    assert fakes.publisher.batches() == []
