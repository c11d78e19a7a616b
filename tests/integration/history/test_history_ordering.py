"""A late redelivery never overwrites newer state, and a change reaching history through two
attempts is one event (issue 17, points 9 and 11), with the real service, NATS and MongoDB."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from history_helpers import TENANT, Pipeline, Run, eventually, full_run, live_inventory, obj


async def retry_of(first: Run, pipeline: Pipeline) -> Run:
    """The run's second attempt, started after the first died (after it, as the lease orders)."""
    retry = Run(pipeline, first.mode, attempt=2, started_at=first.started_at + timedelta(seconds=1))
    retry.run_id = first.run_id
    return await retry.start()


async def applied(db: Any, batch_id: str) -> None:
    async def probe() -> Any:
        return await db["applied_batches"].find_one({"_id": batch_id})

    await eventually(probe, f"batch {batch_id} applied")


async def test_a_batch_redelivered_after_newer_batches_is_applied_but_changes_nothing(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    await full_run(pipeline)
    first = await Run(pipeline, "delta").start()
    # In flight when history was killed: u00 moved to Oslo, u02 soft-deleted.
    late = first.batch("user", [obj("u00", displayName="U00", city="Oslo")], [("u02", "changed")])
    retry = await retry_of(first, pipeline)
    await retry.send("user", [obj("u00", displayName="U00", city="Bergen"), obj("u02")])
    await retry.send("user", [obj("u00", displayName="U00", city="Bergen")])
    await applied(db, f"{retry.run_id}:user:1:a2")
    before = await pipeline.events()

    await pipeline.publish_batch(late)
    await applied(db, late.id)
    recorded = await retry.finish()

    users = await live_inventory(db, TENANT, "user")
    assert users["u00"]["attributes"] == {"displayName": "U00", "city": "Bergen"}
    assert "u02" in users
    after = await pipeline.events()
    assert after[: len(before)] == before
    assert [e["type"] for e in after[len(before) :]] == ["io.entrasync.sync.recorded"]
    assert await pipeline.object_events(retry.run_id) == [("updated", "u00")]
    [row] = [t for t in recorded["data"]["types"] if t["object_type"] == "user"]
    assert (row["status"], row["changed"], row["deleted"]) == ("Succeeded", 1, 0)


async def test_a_change_published_before_a_crash_is_not_published_again_by_the_retry(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    first = await Run(pipeline, "full", started_at=datetime.now(UTC)).start()
    users = [obj(f"n{i:02}", displayName=f"N{i}") for i in range(5)]
    done = await first.send("user", users)
    await applied(db, done.id)
    # The crash: the events went out, the state was never committed.
    await db["inventory"].delete_many({"tenant_id": TENANT, "object_type": "user"})
    await db["applied_batches"].delete_one({"_id": done.id})

    retry = await retry_of(first, pipeline)
    again = await retry.send("user", users)
    await applied(db, again.id)
    # And the first attempt's copy is redelivered (a new stream message, the same batch).
    await pipeline.publish_batch(done, msg_id=f"again:{done.id}")
    await applied(db, done.id)
    await retry.finish()

    created = [
        (e["id"], e["subject"])
        for e in await pipeline.events()
        if e["type"] == "io.entrasync.directory.user.created"
    ]
    assert Counter(subject for _, subject in created) == {u.id: 1 for u in users}
    assert len({event_id for event_id, _ in created}) == len(users)
    assert sorted(await live_inventory(db, TENANT, "user")) == [u.id for u in users]
