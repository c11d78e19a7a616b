import json
from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_history.adapters.mongo import MongoHistoryStore
from entrasync_shared.messages import (
    GuardrailOverrideGrant,
    GuardrailOverrides,
    HistoryRow,
    HistoryRunsQuery,
    Page,
    TenantDeleted,
)
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from history_helpers import (
    TENANT,
    USERS,
    PastRun,
    Pipeline,
    Run,
    by_kind,
    eventually,
    full_run,
    live_inventory,
    obj,
    row_counts,
    seed_runs,
)
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, DeliverPolicy

PURGED = ("inventory", "history", "history_counts", "runs", "applied_batches", "outbox")


async def test_the_guardrail_trips_and_an_operator_override_lets_the_next_run_through(
    history: None, pipeline: Pipeline, db: Any, nc: NatsClient, names: Names
) -> None:
    await full_run(pipeline)
    tripped, recorded = await full_run(pipeline, users=USERS[:6])
    assert await pipeline.object_events(tripped.run_id) == []
    assert row_counts(recorded)["user"] == ("Failed", 6, 0, 0)
    error = next(t["error"] for t in recorded["data"]["types"] if t["object_type"] == "user")
    assert "6 of 12 live user objects" in error and "guardrail.override" in error
    assert len(await live_inventory(db, TENANT, "user")) == 12

    granted = await call(
        nc,
        names.api("history", "guardrail.override"),
        GuardrailOverrideGrant(
            tenant_id=TENANT, object_types=("user",), operator="alice", note="offboarding"
        ),
        GuardrailOverrides,
    )
    assert [(g.object_type, g.operator, g.used_by_run) for g in granted.items] == [
        ("user", "alice", None)
    ]
    through, recorded = await full_run(pipeline, users=USERS[:6])
    assert by_kind(await pipeline.object_events(through.run_id))["deleted"] == USERS[6:]
    [user] = [t for t in recorded["data"]["types"] if t["object_type"] == "user"]
    assert (user["status"], user["deleted"], user["guardrail_override"]) == (
        "Succeeded",
        6,
        "alice",
    )
    assert sorted(await live_inventory(db, TENANT, "user")) == USERS[:6]
    used = await db["guardrail_overrides"].find_one({"_id": f"{TENANT}:user"})
    assert used["used_by_run"] == through.run_id

    # One use only: the next mass delete trips the guardrail again.
    await full_run(pipeline)  # the six come back
    again, recorded = await full_run(pipeline, users=USERS[:2])
    assert row_counts(recorded)["user"][0] == "Failed"
    assert await pipeline.object_events(again.run_id) == []


async def test_a_soft_deleted_user_is_restored_when_it_comes_back(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    await full_run(pipeline)
    delete = await Run(pipeline, "delta").start()
    await delete.send("user", removals=[("u05", "changed")])
    await delete.finish()
    tombstone = await db["inventory"].find_one({"tenant_id": TENANT, "object_id": "u05"})
    assert (tombstone["deleted"], tombstone["deletion"]) == (True, "soft")
    assert tombstone["deleted_at"] is not None
    restore = await Run(pipeline, "delta").start()
    await restore.send("user", [obj("u05", displayName="U05 again")])
    recorded = await restore.finish()

    assert await pipeline.object_events(restore.run_id) == [("updated", "u05")]
    [event] = [e for e in await pipeline.events() if e["data"].get("run_id") == restore.run_id][:1]
    assert event["data"]["restored"] is True
    assert event["data"]["changed"] == {"displayName": "U05 again"}
    back = await db["inventory"].find_one({"tenant_id": TENANT, "object_id": "u05"})
    assert (back["deleted"], back["deletion"], back["deleted_at"]) == (False, None, None)
    assert back["first_seen"] == tombstone["first_seen"]
    assert row_counts(recorded)["user"] == ("Succeeded", 1, 1, 0)


async def test_a_purged_user_leaves_every_group_and_a_soft_deleted_one_is_set_aside(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    await full_run(pipeline)  # u03 is in g1 and g2
    run = await Run(pipeline, "delta").start()
    await run.send("user", removals=[("u03", "deleted"), ("u00", "changed")])
    recorded = await run.finish()

    groups = await live_inventory(db, TENANT, "group")
    # Live members only: the soft-deleted u00 leaves g1's list too (its edge is set aside and
    # comes back on restore), the purged u03 leaves both groups for good.
    assert groups["g1"]["members"] == ["u01", "u02"]
    assert groups["g1"]["hidden_members"] == ["u00"]
    assert groups["g2"]["members"] == ["u04"]
    events = {(e["type"], e["subject"]): e["data"] for e in await pipeline.events()}
    removed = {"g1": ["u00", "u03"], "g2": ["u03"]}
    for group in ("g1", "g2"):
        data = events[("io.entrasync.directory.group.members_changed", group)]
        if data["run_id"] == run.run_id:
            assert (data["added"], sorted(data["removed"])) == ([], removed[group])
    assert by_kind(await pipeline.object_events(run.run_id))["members_changed"] == ["g1", "g2"]
    assert row_counts(recorded)["group"][2] == 2  # both groups changed in this run


async def test_a_batch_arriving_after_its_run_was_recorded_converges_but_keeps_the_counts(
    history: None, pipeline: Pipeline, db: Any
) -> None:
    run = await Run(pipeline, "delta").start()
    await run.send("user", [obj("u1")])
    straggler = run.batch("user", [obj("u2")])
    run.batches["user"] -= 1  # the finish does not know about it
    await run.finish()
    await pipeline.publish_batch(straggler)
    next_run = await Run(pipeline, "delta").start()
    await next_run.finish()
    assert sorted(await live_inventory(db, TENANT, "user")) == ["u1", "u2"]
    row = await db["history"].find_one({"run_id": run.run_id, "object_type": "user"})
    assert row["changed"] == 1


async def test_the_events_stream_replays_from_any_point_with_the_same_ids(
    history: None, pipeline: Pipeline, nc: NatsClient, names: Names
) -> None:
    await full_run(pipeline)
    middle = datetime.now(UTC)
    delta = await Run(pipeline, "delta").start()
    await delta.send("user", [obj("u00", city="Oslo")], removals=[("u01", "deleted")])
    await delta.finish()
    stored = await pipeline.stream_messages(names.events_stream)
    js = nc.jetstream()

    async def replay(config: ConsumerConfig) -> list[tuple[str, str]]:
        sub = await js.pull_subscribe(
            names.directory_events, stream=names.events_stream, config=config
        )
        seen: list[tuple[str, str]] = []
        try:
            while True:
                try:
                    msgs = await sub.fetch(100, timeout=1)
                except TimeoutError:
                    return seen
                for msg in msgs:
                    event = json.loads(msg.data)
                    assert msg.headers and msg.headers["Nats-Msg-Id"] == event["id"]
                    seen.append((event["id"], event["data"]["run_id"]))
                    await msg.ack()
        finally:
            await sub.unsubscribe()

    directory = [
        json.loads(data)
        for subject, _, data in stored
        if subject.startswith(names.directory_events.removesuffix(">"))
    ]
    everything = await replay(ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
    assert everything == [(e["id"], e["data"]["run_id"]) for e in directory]
    since = await replay(
        ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=middle)
    )
    assert {run for _, run in since} == {delta.run_id}
    assert since == everything[-len(since) :]
    info = await js.stream_info(names.events_stream)
    halfway = info.state.first_seq + info.state.messages // 2
    tail = await replay(
        ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=halfway)
    )
    assert tail and tail == everything[-len(tail) :]


async def test_rows_live_for_the_retention_window_and_every_query_uses_an_index(
    history: None, store: MongoHistoryStore, nc: NatsClient, names: Names, db: Any
) -> None:
    now = datetime.now(UTC)
    await seed_runs(store, [PastRun(now - timedelta(days=d)) for d in (0, 1, 30, 89, 91, 200)])
    page = await call(
        nc,
        names.api("history", "runs.list"),
        HistoryRunsQuery(tenant_id=TENANT, page_size=100),
        Page[HistoryRow],
    )
    oldest = min(r.started_at for r in page.items)
    assert page.total == 12 and len(page.items) == 12 and oldest > now - timedelta(days=90)

    indexes = await db["history"].index_information()
    [ttl] = [i for i in indexes.values() if "expireAfterSeconds" in i]
    assert (ttl["key"], ttl["expireAfterSeconds"]) == ([("expire_at", 1)], 0)
    row = await db["history"].find_one({"tenant_id": TENANT}, sort=[("order", -1)])
    assert row["expire_at"] > now + timedelta(days=89)
    assert "expireAfterSeconds" in str(await db["history_counts"].index_information())

    # Row queries name their index (a missing one would fail every search test); the
    # inventory's are planned by MongoDB and must not scan the collection.
    assert {"tenant_order", "tenant_kind_order", "tenant_failed_rows"} <= set(indexes)
    inventory = db["inventory"]
    for query, order in (
        ({"tenant_id": TENANT, "object_type": "user", "deleted": False}, "object_id"),
        ({"tenant_id": TENANT, "object_type": "user"}, "object_id"),
        ({"tenant_id": TENANT, "object_type": "group", "members": {"$in": ["u1"]}}, "_id"),
        ({"tenant_id": TENANT, "object_type": "user", "deleted": False,
          "last_seen_run": {"$ne": "r"}}, "_id"),
    ):  # fmt: skip
        plan = await inventory.find(query).sort(order, 1).limit(50).explain()
        assert "COLLSCAN" not in json.dumps(plan["queryPlanner"]["winningPlan"]), query


async def test_a_deleted_tenant_is_erased_only_when_the_admin_asked_for_it(
    history: None, pipeline: Pipeline, db: Any, nc: NatsClient, names: Names
) -> None:
    other = "c0ffee00-0000-4000-8000-000000000002"
    await full_run(pipeline)
    kept = await Run(pipeline, "delta", tenant_id=other).start()
    await kept.send("user", [obj("x1")])
    await kept.finish()
    running = await Run(pipeline, "delta", tenant_id=other).start()

    async def status() -> str | None:
        run = await db["runs"].find_one({"_id": running.run_id})
        return run["status"] if run else None

    await eventually(status, "the run to be recorded as Running")
    js = nc.jetstream()
    subject, stream = names.tenant_event("deleted"), names.config_stream
    await js.publish(
        subject, TenantDeleted(tenant_id=other).model_dump_json().encode(), stream=stream
    )

    async def cancelled() -> bool:
        return await status() == "Cancelled"

    await eventually(cancelled, "the deleted tenant's run to be cancelled")
    # What a crash between a commit and its publish leaves (the outbox's retry pass is 30 s
    # away): the purge takes it too.
    await db["outbox"].insert_one({"tenant_id": TENANT, "at": datetime.now(UTC), "events": []})
    purge = TenantDeleted(tenant_id=TENANT, purge_history=True)
    await js.publish(subject, purge.model_dump_json().encode(), stream=stream)

    async def erased() -> bool:
        left = [await db[c].count_documents({"tenant_id": TENANT}) for c in PURGED]
        return sum(left) == 0 and await db["tenants"].find_one({"_id": TENANT}) is None

    await eventually(erased, "the purged tenant's data to be gone")
    assert sorted(await live_inventory(db, other, "user")) == ["x1"]
    assert await db["history"].count_documents({"tenant_id": other}) == 6
