from typing import Any

from entrasync_shared.subjects import Names
from history_helpers import (
    DEVICES,
    GROUPS,
    TENANT,
    USERS,
    Pipeline,
    Run,
    by_kind,
    eventually,
    full_run,
    live_inventory,
    obj,
    row_counts,
)


async def test_a_full_run_builds_the_inventory_and_a_second_changes_nothing(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    first, recorded = await full_run(pipeline)
    events = by_kind(await pipeline.object_events(first.run_id))
    assert events["created"] == sorted([*USERS, *GROUPS, *DEVICES])
    assert events["members_changed"] == ["g1", "g1", "g2"]  # g1's members came in two batches
    assert recorded["id"] == f"recorded:{first.run_id}"
    assert recorded["type"] == "io.entrasync.sync.recorded"
    assert recorded["data"]["status"] == "Succeeded"
    assert row_counts(recorded) == {
        "user": ("Succeeded", 12, 12, 0),
        "group": ("Succeeded", 4, 3, 0),
        "device": ("Succeeded", 2, 2, 0),
    }

    users = await live_inventory(db, TENANT, "user")
    assert sorted(users) == USERS
    assert users["u01"]["attributes"] == {"displayName": "U01"}
    groups = await live_inventory(db, TENANT, "group")
    assert {g: doc["members"] for g, doc in groups.items()} == GROUPS
    assert sorted(await live_inventory(db, TENANT, "device")) == DEVICES
    rows = await db["history"].find({"run_id": first.run_id}).to_list()
    assert {r["object_type"]: r["status"] for r in rows} == {
        "user": "Succeeded",
        "group": "Succeeded",
        "device": "Succeeded",
    }
    tenant = await db["tenants"].find_one({"_id": TENANT})
    assert (tenant["last_run_id"], tenant["last_sync_status"]) == (first.run_id, "Succeeded")

    second, recorded = await full_run(pipeline)
    assert await pipeline.object_events(second.run_id) == []
    assert {t: c[2:] for t, c in row_counts(recorded).items()} == {
        "user": (0, 0),
        "group": (0, 0),
        "device": (0, 0),
    }


async def test_a_delta_run_emits_exactly_its_changes(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    await full_run(pipeline)
    delta = await Run(pipeline, "delta").start()
    await delta.send(
        "user",
        [obj("u00", city="Oslo"), obj("u01", displayName="U01"), obj("u99", displayName="New")],
        removals=[("u02", "changed"), ("u03", "deleted")],
    )
    await delta.send("group", [obj("g2", added=["u05"], removed=["u04"])])
    await delta.send("device", removals=[("d2", "deleted")])
    recorded = await delta.finish()

    assert by_kind(await pipeline.object_events(delta.run_id)) == {
        "created": ["u99"],
        "updated": ["u00"],
        "deleted": ["d2", "u02", "u03"],
        "members_changed": ["g1", "g2", "g2"],  # g2 lost u03 (hard delete), then its batch
    }
    events = {(e["type"], e["subject"]): e["data"] for e in await pipeline.events()}
    assert events[("io.entrasync.directory.user.updated", "u00")]["changed"] == {"city": "Oslo"}
    assert events[("io.entrasync.directory.user.deleted", "u02")]["soft"] is True
    assert events[("io.entrasync.directory.user.deleted", "u03")]["soft"] is False
    g1 = events[("io.entrasync.directory.group.members_changed", "g1")]
    # Lists hold live members only: soft-deleted u02 leaves too, its edge kept aside.
    assert (g1["added"], g1["removed"]) == ([], ["u02", "u03"])
    g2 = events[("io.entrasync.directory.group.members_changed", "g2")]
    assert (g2["added"], g2["removed"]) == (["u05"], ["u04"])
    assert row_counts(recorded) == {
        "user": ("Succeeded", 5, 2, 2),
        "group": ("Succeeded", 1, 2, 0),
        "device": ("Succeeded", 1, 0, 1),
    }

    users = await live_inventory(db, TENANT, "user")
    assert users["u00"]["attributes"] == {"displayName": "U00", "city": "Oslo"}
    assert "u02" not in users and "u03" not in users
    soft = await db["inventory"].find_one({"object_id": "u02", "tenant_id": TENANT})
    assert (soft["deleted"], soft["deletion"]) == (True, "soft")
    groups = await live_inventory(db, TENANT, "group")
    assert groups["g1"]["members"] == ["u00", "u01"]
    assert groups["g1"]["hidden_members"] == ["u02"]
    assert groups["g2"]["members"] == ["u05"]

    restore = await Run(pipeline, "delta").start()
    await restore.send("user", [obj("u02", displayName="U02")])
    await restore.finish()
    # The edge comes back with the member (Graph's groups delta says nothing on a restore).
    assert sorted(await pipeline.object_events(restore.run_id)) == [
        ("members_changed", "g1"),
        ("updated", "u02"),
    ]
    groups = await live_inventory(db, TENANT, "group")
    assert groups["g1"]["members"] == ["u00", "u01", "u02"]
    updated = [
        e
        for e in await pipeline.events()
        if e["data"]["run_id"] == restore.run_id and e["type"].endswith(".updated")
    ]
    assert [(e["type"], e["data"]["restored"], e["data"]["changed"]) for e in updated] == [
        ("io.entrasync.directory.user.updated", True, {})
    ]


async def test_a_full_scan_that_still_lists_a_soft_deleted_member_publishes_nothing(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    await full_run(pipeline)
    soft = await Run(pipeline, "delta").start()
    await soft.send("user", removals=[("u02", "changed")])
    await soft.finish()

    # Graph keeps the edge and a full round lists it (microsoft-graph-docs#7115); the soft
    # deleted user itself is not in the users round.
    unchanged, _ = await full_run(pipeline, users=[u for u in USERS if u != "u02"])
    events = await pipeline.object_events(unchanged.run_id)
    # A full scan where Graph no longer lists the edge drops it for good.
    gone, _ = await full_run(
        pipeline,
        users=[u for u in USERS if u != "u02"],
        groups={**GROUPS, "g1": ["u00", "u01", "u03"]},
    )

    assert events == []
    assert await pipeline.object_events(gone.run_id) == []
    g1 = await db["inventory"].find_one({"object_id": "g1", "tenant_id": TENANT})
    assert (g1["members"], g1["hidden_members"]) == (["u00", "u01", "u03"], [])


async def test_a_redelivered_batch_changes_nothing_and_counts_nothing_twice(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    await full_run(pipeline)
    run = await Run(pipeline, "delta").start()
    batch = await run.send(
        "user", [obj("u00", city="Oslo"), obj("new", displayName="N")], [("u01", "deleted")]
    )
    await pipeline.publish_batch(batch, msg_id="another-id")  # past JetStream's dedupe
    recorded = await run.finish()
    await pipeline.publish_batch(batch, msg_id="yet-another-id")  # after the run's record
    later = await Run(pipeline, "delta").start()
    await later.finish()

    assert sorted(await pipeline.object_events(run.run_id)) == [
        ("created", "new"),
        ("deleted", "u01"),
        ("members_changed", "g1"),
        ("updated", "u00"),
    ]
    assert row_counts(recorded)["user"] == ("Succeeded", 3, 2, 1)
    row = await db["history"].find_one({"run_id": run.run_id, "object_type": "user"})
    assert (row["changed"], row["deleted"]) == (2, 1)
    ids = [e["id"] for e in await pipeline.events()]
    assert len(ids) == len(set(ids))


async def test_a_finish_that_overtakes_its_batches_waits_for_them(
    history: None, pipeline: Pipeline
) -> None:
    run = await Run(pipeline, "full").start()
    batch = run.batch("user", [obj("u1", displayName="A")])
    await pipeline.publish(pipeline.names.run_event(TENANT, "finished"), run.finished())
    await pipeline.publish_batch(batch)
    recorded = await pipeline.recorded(run.run_id)
    assert row_counts(recorded)["user"] == ("Succeeded", 1, 1, 0)


async def test_a_full_run_deletes_what_it_no_longer_sees(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    await full_run(pipeline)
    run, recorded = await full_run(
        pipeline, users=USERS[:-2], groups={"g1": ["u00", "u01"], "g2": ["u03", "u04"]}
    )
    assert by_kind(await pipeline.object_events(run.run_id)) == {
        "deleted": ["g3", "u10", "u11"],
        "members_changed": ["g1"],
    }
    assert row_counts(recorded)["user"] == ("Succeeded", 10, 0, 2)
    assert row_counts(recorded)["group"] == ("Succeeded", 2, 1, 1)
    groups = await live_inventory(db, TENANT, "group")
    assert {g: doc["members"] for g, doc in groups.items()} == {
        "g1": ["u00", "u01"],
        "g2": ["u03", "u04"],
    }
    gone = await db["inventory"].find_one({"tenant_id": TENANT, "object_id": "u11"})
    # A sweep cannot tell a soft delete from a purge: it says so rather than claim a purge.
    assert (gone["deleted"], gone["deletion"], gone["deleted_run"]) == (True, "unseen", run.run_id)


async def test_the_guardrail_refuses_a_mass_delete(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    await full_run(pipeline)
    run, recorded = await full_run(pipeline, users=USERS[:9])
    assert await pipeline.object_events(run.run_id) == []
    status, _, _, deleted = row_counts(recorded)["user"]
    assert (status, deleted, recorded["data"]["status"]) == ("Failed", 0, "Failed")
    error = next(t["error"] for t in recorded["data"]["types"] if t["object_type"] == "user")
    assert "3 of 12 live user objects" in error
    assert len(await live_inventory(db, TENANT, "user")) == 12


async def test_a_malformed_message_is_dead_lettered_and_the_rest_flows(
    history: None, pipeline: Pipeline, names: Names
) -> None:
    await pipeline.publish_raw(names.observed(TENANT, "user"), b'{"objects": "nope"}')
    await pipeline.publish_raw(names.run_event(TENANT, "finished"), b"not json")

    async def parked() -> list[tuple[str, dict[str, str], bytes]]:
        found = await pipeline.stream_messages(names.dead_letter_stream)
        return found if len(found) == 2 else []

    letters = await eventually(parked, "two dead letters")
    assert [data for _, _, data in letters] == [b'{"objects": "nope"}', b"not json"]
    assert all(subject == names.dead_letter("history") for subject, _, _ in letters)
    assert "not a ObservationBatch" in letters[0][1]["Entrasync-Reason"]
    assert letters[1][1]["Entrasync-Subject"] == names.run_event(TENANT, "finished")
    run = await Run(pipeline, "delta").start()
    await run.send("user", [obj("u1")])
    await run.finish()


async def test_a_retried_run_is_recorded_once_its_latest_attempt_is_applied(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    run = await Run(pipeline, "full").start()
    await run.send("user", [obj("u1", displayName="A")])  # attempt 1 dies after one batch
    retry = Run(pipeline, "full", attempt=2)
    retry.run_id, retry.started_at = run.run_id, run.started_at
    batches = [retry.batch("user", [obj("u1", displayName="A")]), retry.batch("user", [obj("u2")])]
    await pipeline.publish(pipeline.names.run_event(TENANT, "finished"), retry.finished())
    for batch in batches:
        await pipeline.publish_batch(batch)
    recorded = await pipeline.recorded(run.run_id)
    assert row_counts(recorded)["user"] == ("Succeeded", 2, 2, 0)
    assert await pipeline.object_events(run.run_id) == [("created", "u1"), ("created", "u2")]
    assert sorted(await live_inventory(db, TENANT, "user")) == ["u1", "u2"]
