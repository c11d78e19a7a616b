from dataclasses import replace

import pytest
from entrasync_shared.messages import ObservationBatch, StartSync, SyncFinished, SyncStarted
from entrasync_syncer.domain import full_round_url
from entrasync_syncer.ports import DeltaLinkExpired, GraphError, InfrastructureError
from entrasync_syncer.usecases.sync import sync_tenant
from syncer_fakes import GRAPH, Fakes, credential

USERS = full_round_url(GRAPH, "user")
STORED = f"{GRAPH}/v1.0/users/delta?$deltatoken=stored"
GROUPS = full_round_url(GRAPH, "group")
DEVICES = full_round_url(GRAPH, "device")


def command(mode: str = "full", types: tuple[str, ...] = ("user",), **kw: object) -> StartSync:
    return StartSync(
        run_id="run1",
        tenant_id="t1",
        mode=mode,  # type: ignore[arg-type]
        reason=kw.pop("reason", "schedule"),  # type: ignore[arg-type]
        object_types=types,  # type: ignore[arg-type]
    )


@pytest.fixture
def fakes() -> Fakes:
    fakes = Fakes()
    fakes.credentials.known["t1"] = credential("t1")
    return fakes


async def test_a_full_run_publishes_its_pages_together_then_stores_the_delta_link(
    fakes: Fakes,
) -> None:
    fakes.graph.serve(USERS, [{"id": "u1"}, {"id": "u2"}], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u3"}])

    finished = await sync_tenant(command(), fakes.deps())

    log = fakes.publisher.log
    assert isinstance(log[0], SyncStarted) and log[0].id == "run1:started"
    # Pages go out together up to `max_batch_bytes`: history's cost is per batch.
    assert [(b.id, b.seq, b.mode) for b in fakes.publisher.batches()] == [
        ("run1:user:0", 0, "full")
    ]
    assert [o.id for b in fakes.publisher.batches() for o in b.objects] == ["u1", "u2", "u3"]
    assert isinstance(log[-1], SyncFinished) and log[-1] == finished
    assert finished.id == "run1:finished" and finished.status == "Succeeded"
    (result,) = finished.results
    assert (result.mode, result.reason, result.total, result.batches) == ("full", "schedule", 3, 1)
    assert fakes.cursors.links[("t1", "user")] == "p2#delta"


async def test_pages_share_a_batch_only_up_to_its_size_and_never_across_removals(
    fakes: Fakes,
) -> None:
    big = "x" * 3000
    fakes.graph.serve(USERS, [{"id": "u1", "aboutMe": big}], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u2", "aboutMe": big}], next_url="p3")
    fakes.graph.serve("p3", [{"id": "u3"}], next_url="p4")
    fakes.graph.serve("p4", [{"id": "u4", "@removed": {"reason": "deleted"}}], next_url="p5")
    fakes.graph.serve("p5", [{"id": "u5"}])
    fakes.options = replace(fakes.options, max_batch_bytes=5000)

    finished = await sync_tenant(command(), fakes.deps())

    batches = fakes.publisher.batches()
    assert [[o.id for o in b.objects] for b in batches] == [["u1"], ["u2", "u3"], [], ["u5"]]
    assert [[r.id for r in b.removals] for b in batches] == [[], [], ["u4"], []]
    assert [b.seq for b in batches] == [0, 1, 2, 3] and finished.results[0].batches == 4


async def test_a_delta_run_starts_from_the_stored_link(fakes: Fakes) -> None:
    fakes.cursors.links[("t1", "user")] = STORED
    fakes.graph.serve(STORED, [{"id": "u1", "@removed": {"reason": "deleted"}}])

    finished = await sync_tenant(command("delta"), fakes.deps())

    assert fakes.graph.requested == [STORED]
    (batch,) = fakes.publisher.batches()
    assert batch.mode == "delta" and [r.id for r in batch.removals] == ["u1"]
    assert (finished.results[0].mode, finished.results[0].reason) == ("delta", "schedule")
    assert finished.results[0].total == 0
    assert fakes.cursors.links[("t1", "user")] == f"{STORED}#delta"


async def test_a_delta_run_without_cursor_does_a_full_round_marked_resync(fakes: Fakes) -> None:
    fakes.graph.serve(USERS, [{"id": "u1"}])

    finished = await sync_tenant(command("delta"), fakes.deps())

    assert fakes.publisher.batches()[0].mode == "full"
    assert (finished.mode, finished.reason) == ("delta", "schedule")
    assert (finished.results[0].mode, finished.results[0].reason) == ("full", "resync")


async def test_an_expired_link_is_discarded_and_replaced_by_a_full_round(fakes: Fakes) -> None:
    fakes.cursors.links[("t1", "user")] = STORED
    fakes.graph.pages[STORED] = DeltaLinkExpired("400 syncStateNotFound: gone")
    fakes.graph.serve(USERS, [{"id": "u1"}])

    finished = await sync_tenant(command("delta"), fakes.deps())

    assert fakes.cursors.discarded == [("t1", "user")]
    assert fakes.cursors.links[("t1", "user")] == f"{USERS}#delta"
    result = finished.results[0]
    assert (result.status, result.mode, result.reason, result.total) == (
        "Succeeded",
        "full",
        "resync",
        1,
    )


async def test_a_full_round_is_restarted_at_most_once(fakes: Fakes) -> None:
    fakes.graph.pages[USERS] = DeltaLinkExpired("410 Gone")

    finished = await sync_tenant(command("full"), fakes.deps())

    assert fakes.graph.requested == [USERS, USERS]
    assert finished.results[0].status == "Failed"
    assert "410" in (finished.results[0].error or "")


async def test_one_failing_type_does_not_stop_the_others(fakes: Fakes) -> None:
    fakes.graph.serve(USERS, [{"id": "u1"}])
    fakes.graph.serve(GROUPS, [{"id": "g1"}], next_url="g-p2")
    fakes.graph.pages["g-p2"] = GraphError("403 Authorization_RequestDenied: no")
    fakes.graph.serve(DEVICES, [{"id": "d1"}])

    finished = await sync_tenant(command(types=("user", "group", "device")), fakes.deps())

    by_type = {r.object_type: r for r in finished.results}
    assert finished.status == "Failed"
    assert by_type["user"].status == by_type["device"].status == "Succeeded"
    assert by_type["group"].status == "Failed"
    assert by_type["group"].error == "403 Authorization_RequestDenied: no"
    assert by_type["group"].batches == 1
    assert ("t1", "group") not in fakes.cursors.links
    assert ("t1", "user") in fakes.cursors.links


async def test_a_refused_token_fails_every_type_of_the_run(fakes: Fakes) -> None:
    fakes.tokens.refuse = "invalid_client: AADSTS7000215: Invalid client secret provided."

    finished = await sync_tenant(command(types=("user", "device")), fakes.deps())

    assert [r.status for r in finished.results] == ["Failed", "Failed"]
    assert "AADSTS7000215" in (finished.results[0].error or "")
    assert fakes.graph.requested == []
    assert "s3cret" not in finished.model_dump_json()


async def test_a_tenant_deleted_from_config_ends_the_run_as_cancelled(fakes: Fakes) -> None:
    fakes.credentials.known.clear()

    finished = await sync_tenant(command(types=("user", "group")), fakes.deps())

    assert [type(m) for m in fakes.publisher.log] == [SyncFinished]
    assert finished.status == "Cancelled"
    assert [r.status for r in finished.results] == ["Cancelled", "Cancelled"]
    assert "no longer exists" in (finished.results[0].error or "")


async def test_nats_trouble_escapes_and_leaves_the_cursor_alone(fakes: Fakes) -> None:
    fakes.cursors.links[("t1", "user")] = STORED
    fakes.graph.serve(STORED, [{"id": "u1"}])
    fakes.publisher.fail_batches = True

    with pytest.raises(InfrastructureError):
        await sync_tenant(command("delta"), fakes.deps())

    assert fakes.cursors.links[("t1", "user")] == STORED
    assert not any(isinstance(m, SyncFinished) for m in fakes.publisher.log)


async def test_pages_with_nothing_new_publish_no_batch(fakes: Fakes) -> None:
    fakes.graph.serve(USERS, [], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u1"}], next_url="p3")
    fakes.graph.serve("p3", [{"id": "u1"}])

    finished = await sync_tenant(command(), fakes.deps())

    assert [b.seq for b in fakes.publisher.batches()] == [0]
    assert (finished.results[0].total, finished.results[0].batches) == (1, 1)


async def test_a_redelivered_command_publishes_batches_under_new_ids(fakes: Fakes) -> None:
    fakes.graph.serve(USERS, [{"id": "u1"}])

    await sync_tenant(command(), fakes.deps(), attempt=2)

    batches: list[ObservationBatch] = fakes.publisher.batches()
    assert [b.id for b in batches] == ["run1:user:0:a2"]
    assert fakes.publisher.finished_event.id == "run1:finished"


async def test_batches_carry_their_attempts_start_so_history_can_order_them(
    fakes: Fakes,
) -> None:
    fakes.graph.serve(USERS, [{"id": "u1"}], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u2"}])
    fakes.options = replace(fakes.options, max_batch_bytes=1)  # a batch per page

    first = await sync_tenant(command(), fakes.deps())
    fakes.graph.serve(USERS, [{"id": "u1"}], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u2"}])
    retry = await sync_tenant(command(), fakes.deps(), attempt=2)

    positions = [(b.started_at, b.attempt, b.seq) for b in fakes.publisher.batches()]
    assert positions == [
        (first.started_at, 1, 0),
        (first.started_at, 1, 1),
        (retry.started_at, 2, 0),
        (retry.started_at, 2, 1),
    ]
    assert positions == sorted(positions)
