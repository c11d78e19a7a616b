"""The Sync History table's run lines: one per run, summing its type rows."""

from datetime import UTC, datetime, timedelta

from entrasync_console.core.views import run_groups
from entrasync_shared.messages import HistoryRow

START = datetime(2025, 3, 10, 1, tzinfo=UTC)


def row(run_id: str, object_type: str, **fields: object) -> HistoryRow:
    values: dict[str, object] = {
        "tenant_id": "t",
        "run_id": run_id,
        "object_type": object_type,
        "mode": "delta",
        "reason": "schedule",
        "status": "Succeeded",
        "started_at": START,
        "finished_at": START + timedelta(seconds=5),
        "total": 10,
        "changed": 1,
    }
    return HistoryRow.model_validate({**values, **fields})


def test_each_run_is_one_line_summing_its_type_rows() -> None:
    late = START + timedelta(seconds=9)
    rows = [
        row("r2", "user"),
        row("r2", "group", status="Failed", error="throttled", finished_at=late),
        row("r2", "device", mode="full", reason="resync"),
        row("r1", "user", status="Running", finished_at=None),
    ]
    second, first = run_groups(rows)
    assert (second.run_id, second.types) == ("r2", "user, group, device")
    assert (second.sum("total"), second.sum("changed")) == (30, 3)
    assert (second.status, second.error, second.finished_at) == ("Failed", "throttled", late)
    assert second.mode == "delta (schedule), full (resync)"
    assert (first.status, first.finished_at, first.mode) == ("Running", None, "delta (schedule)")


def test_a_retried_run_line_shows_its_attempts() -> None:
    (retried,) = run_groups([row("r3", "user", attempts=2), row("r3", "group", attempts=2)])
    (once,) = run_groups([row("r4", "user")])
    assert (retried.attempts, once.attempts) == (2, 1)
