"""A run whose syncer died and whose command was redelivered: its Sync History spans from the
first attempt's start to the last attempt's end, and counts the attempts."""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_shared.messages import (
    HistoryExportChunk,
    HistoryExportRequest,
    HistoryRow,
    HistoryRunsQuery,
    Page,
    SyncStarted,
)
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES, Names
from history_helpers import TENANT, Pipeline, Run, eventually, obj
from nats.aio.client import Client as NatsClient


def whole_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


async def start_attempt(pipeline: Pipeline, run: Run) -> None:
    """What the syncer publishes when an attempt of the run begins (its own message id)."""
    started = SyncStarted(
        id=f"{run.run_id}:started" + (f":a{run.attempt}" if run.attempt > 1 else ""),
        run_id=run.run_id,
        tenant_id=TENANT,
        mode=run.mode,
        reason=run.reason,  # type: ignore[arg-type]
        object_types=DEFAULT_OBJECT_TYPES,
        at=run.started_at,
        attempt=run.attempt,
    )
    await pipeline.publish(pipeline.names.run_event(TENANT, "started"), started, started.id)


async def run_rows(nc: NatsClient, names: Names, run_id: str) -> list[HistoryRow]:
    request = HistoryRunsQuery(tenant_id=TENANT, changes_only=False)
    page = await call(nc, names.api("history", "runs.list"), request, Page[HistoryRow])
    return [row for row in page.items if row.run_id == run_id]


async def export_lines(nc: NatsClient, names: Names) -> list[list[str]]:
    request = HistoryExportRequest(tenant_id=TENANT, max_rows=1000)
    chunk = await call(nc, names.api("history", "runs.export"), request, HistoryExportChunk)
    return list(csv.reader(io.StringIO(chunk.csv, newline="")))


async def test_a_retried_run_keeps_its_first_start_and_counts_its_attempts(
    history: None, pipeline: Pipeline, nc: NatsClient, names: Names
) -> None:
    first_start = whole_ms(datetime.now(UTC) - timedelta(seconds=61))  # as MongoDB keeps it
    first = Run(pipeline, "full", started_at=first_start)
    await start_attempt(pipeline, first)
    await first.send("user", [obj("u1", displayName="A")])  # then the syncer is killed
    retry = Run(pipeline, "full", attempt=2, started_at=whole_ms(datetime.now(UTC)))
    retry.run_id = first.run_id
    await start_attempt(pipeline, retry)

    async def running_again() -> list[HistoryRow] | None:
        rows = await run_rows(nc, names, first.run_id)
        return rows if rows and all(r.attempts == 2 for r in rows) else None

    running = await eventually(running_again, "the rows of the run's second attempt")
    assert {(r.status, r.started_at) for r in running} == {("Running", first_start)}

    await retry.send("user", [obj("u1", displayName="A"), obj("u2")])
    await retry.send("group", [obj("g1", ["u1"], displayName="G")])
    recorded = await retry.finish()
    end = retry.finished().finished_at
    data = recorded["data"]
    assert data["attempts"] == 2
    assert datetime.fromisoformat(data["started_at"]) == first_start

    rows = await run_rows(nc, names, first.run_id)
    assert len(rows) == len(DEFAULT_OBJECT_TYPES)
    for row in rows:
        assert (row.status, row.started_at, row.attempts) == ("Succeeded", first_start, 2)
        assert row.finished_at is not None and abs(row.finished_at - end) < timedelta(seconds=1)

    table = await export_lines(nc, names)
    header, lines = table[0], table[1:]
    assert header[-1] == "Attempts"
    column = {name: i for i, name in enumerate(header)}
    mine: list[Any] = [line for line in lines if line[column["Run Id"]] == first.run_id]
    assert {line[column["Attempts"]] for line in mine} == {"2"}
    assert {line[column["Start Time"]] for line in mine} == {
        first_start.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    }


async def test_a_run_that_started_once_counts_one_attempt(
    history: None, pipeline: Pipeline, nc: NatsClient, names: Names
) -> None:
    run = Run(pipeline, "full", started_at=whole_ms(datetime.now(UTC)))
    await start_attempt(pipeline, run)
    await run.send("user", [obj("u1")])
    recorded = await run.finish()
    assert recorded["data"]["attempts"] == 1
    rows = await run_rows(nc, names, run.run_id)
    assert {(r.attempts, r.started_at) for r in rows} == {(1, run.started_at)}
