"""What a Sync History search means: dates as the console shows them, numbers, and the
"changes or errors" rule for a recorded run."""

from datetime import UTC, datetime

import pytest
from entrasync_history.domain.search import (
    RowSearch,
    row_search,
    run_has_changes,
    shown_number,
    shown_start,
)
from entrasync_shared.messages import HistoryRow, TypeCounts


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("2025-03-10 01:00:05 UTC", "2025-03-10T01:00:05"),
        ("2025-03-10 01:00:05 u", "2025-03-10T01:00:05"),
        ("2025-03-10 01:0", "2025-03-10T01:0"),
        ("2025-03-10T01", "2025-03-10T01"),
        ("2025-03-10", "2025-03-10"),
        ("2025-0", "2025-0"),
        ("2025-", "2025-"),
        ("2025", None),  # a year alone is a number
        ("01:00", None),
        ("2025-03-10x", None),
        ("2025-03-10 01:00:05 GMT", None),
        ("२०२५-03-10", None),  # digits, but not the ASCII ones the console shows
    ],
)
def test_a_date_search_is_a_prefix_of_the_shown_start_time(text: str, prefix: str | None) -> None:
    assert shown_start(text) == prefix


@pytest.mark.parametrize(
    ("text", "number"),
    [("42", 42), ("0", 0), ("1,250", 1250), ("12,50", None), ("1.5", None), ("-3", None)],
)
def test_a_number_search_reads_numbers_as_the_table_shows_them(
    text: str, number: int | None
) -> None:
    assert shown_number(text) == number


def row(**fields: object) -> HistoryRow:
    values: dict[str, object] = {
        "tenant_id": "t",
        "run_id": "r",
        "object_type": "user",
        "mode": "delta",
        "reason": "schedule",
        "status": "Succeeded",
        "started_at": datetime(2025, 3, 10, 1, 0, 5, 7000, tzinfo=UTC),
        "total": 12,
    }
    return HistoryRow.model_validate({**values, **fields})


def search(text: str) -> RowSearch:
    found = row_search(text)
    assert found is not None
    return found


def test_a_row_matches_by_start_time_number_or_text() -> None:
    assert search("2025-03-10 01:00").matches_row(row())
    assert not search("2025-03-10 01:01").matches_row(row())
    assert search("12").matches_row(row())
    assert not search("13").matches_row(row())
    failed = row(status="Failed", error="Graph answered 503")
    assert search("503").matches_row(failed)
    assert search("USER").matches_row(row())


def counts(**fields: object) -> TypeCounts:
    values: dict[str, object] = {
        "object_type": "user",
        "mode": "delta",
        "reason": "schedule",
        "status": "Succeeded",
    }
    return TypeCounts.model_validate({**values, **fields})


def test_a_run_has_changes_when_anything_changed_was_deleted_or_went_wrong() -> None:
    assert not run_has_changes([counts(total=500), counts(object_type="group")])
    assert run_has_changes([counts(), counts(object_type="group", changed=1)])
    assert run_has_changes([counts(deleted=2)])
    assert run_has_changes([counts(status="Failed", error="throttled")])
    assert run_has_changes([counts(status="Cancelled")])
