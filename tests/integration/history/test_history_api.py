import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from entrasync_shared.infra import LocalInfra
from entrasync_shared.messages import (
    Health,
    HistoryObjectsQuery,
    HistoryRow,
    HistoryRunsQuery,
    InventoryItem,
    Page,
)
from entrasync_shared.natsutil import ApiCallError, call
from entrasync_shared.subjects import Names
from history_helpers import TENANT, Pipeline, Run, eventually, obj
from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError


async def test_runs_and_objects_are_listed_page_by_page(
    history: None, pipeline: Pipeline, nc: NatsClient, names: Names
) -> None:
    run = await Run(pipeline, "full").start()
    await run.send("user", [obj(f"u{i}", displayName=str(i)) for i in range(5)])
    await run.send("group", [obj("g1", ["u1", "u2"], displayName="G")])
    await run.finish()
    later = await Run(pipeline, "delta").start()
    await later.send("user", removals=[("u4", "changed")])
    await later.finish()

    runs = await call(
        nc,
        names.api("history", "runs.list"),
        HistoryRunsQuery(tenant_id=TENANT, page_size=3),
        Page[HistoryRow],
    )
    assert runs.total == 6
    assert [(r.run_id, r.object_type) for r in runs.items] == [
        (later.run_id, "device"),
        (later.run_id, "group"),
        (later.run_id, "user"),
    ]
    assert runs.items[2].deleted == 1 and runs.items[2].status == "Succeeded"

    users = await call(
        nc,
        names.api("history", "objects.list"),
        HistoryObjectsQuery(tenant_id=TENANT, object_type="user", page=2, page_size=2),
        Page[InventoryItem],
    )
    assert (users.total, [u.object_id for u in users.items]) == (5, ["u2", "u3"])
    live = await call(
        nc,
        names.api("history", "objects.list"),
        HistoryObjectsQuery(tenant_id=TENANT, object_type="user", include_deleted=False),
        Page[InventoryItem],
    )
    assert live.total == 4
    groups = await call(
        nc,
        names.api("history", "objects.list"),
        HistoryObjectsQuery(tenant_id=TENANT, object_type="group"),
        Page[InventoryItem],
    )
    assert groups.items[0].members == ("u1", "u2")
    assert groups.items[0].attributes == {"displayName": "G"}


async def test_the_service_answers_micro_discovery(
    history: None, nc: NatsClient, names: Names
) -> None:
    inbox = nc.new_inbox()
    replies = await nc.subscribe(inbox)
    await nc.publish("$SRV.INFO.entrasync-history", b"", reply=inbox)
    while True:
        info = json.loads((await replies.next_msg(timeout=5)).data)
        if info["metadata"].get("prefix") == names.prefix:
            break
    await replies.unsubscribe()
    assert info["name"] == "entrasync-history"


async def test_a_bad_query_gets_an_error_reply(history: None, nc: NatsClient, names: Names) -> None:
    async def answered() -> Any:
        # Right after startup nats-server 2.9 rarely reports "no responders" once.
        try:
            return await nc.request(
                names.api("history", "objects.list"),
                json.dumps({"tenant_id": TENANT, "object_type": "printer"}).encode(),
                timeout=5,
            )
        except NoRespondersError:
            return None

    msg = await eventually(answered, "an answer from history")
    reply = json.loads(msg.data)
    assert reply["ok"] is False
    assert (reply["error"]["code"], reply["error"]["field"]) == ("invalid", "object_type")
    try:
        await call(nc, names.api("history", "runs.list"), None, Page[HistoryRow])
    except ApiCallError as error:
        assert error.error.field == "tenant_id"
    else:
        raise AssertionError("a query without tenant was accepted")


async def test_the_script_starts_and_answers_health(
    infra: LocalInfra, nc: NatsClient, names: Names, db_name: str
) -> None:
    script = Path(sys.executable).parent / "entrasync-history"
    env = {
        **os.environ,
        "ENTRASYNC_NATS_URL": infra.nats_url,
        "ENTRASYNC_MONGODB_URI": infra.mongodb_uri,
        "ENTRASYNC_PREFIX": names.prefix,
        "ENTRASYNC_HISTORY_DB": db_name,
    }
    process = await asyncio.create_subprocess_exec(script, env=env, stderr=subprocess.PIPE)
    try:

        async def healthy() -> Any:
            try:
                return await call(nc, names.api("history", "health"), None, Health, timeout=1.0)
            except ApiCallError:
                return None

        health = await eventually(healthy, "the history process to answer health", 30)
        assert health.ok and health.service == "history"
    finally:
        process.terminate()
        async with asyncio.timeout(15):
            _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert b"history ready" in stderr
