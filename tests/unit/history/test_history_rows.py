import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from entrasync_history.domain.csvexport import HEADER, encode, iso_utc, neutralise
from entrasync_history.domain.paging import PageStart, day_of, expiry, locate, window_start
from entrasync_history.domain.search import literal_pattern, row_search
from entrasync_shared.messages import HistoryRow

D = datetime(2025, 3, 10, tzinfo=UTC)


def row(error: str | None = None, **fields) -> HistoryRow:
    values = {
        "tenant_id": "t",
        "run_id": "r1",
        "object_type": "user",
        "mode": "delta",
        "reason": "schedule",
        "status": "Failed" if error else "Succeeded",
        "started_at": D + timedelta(hours=1, milliseconds=5),
        "finished_at": D + timedelta(hours=1, seconds=7),
        "total": 12,
        "changed": 3,
        "deleted": 1,
        "filtered": 2,
        "error": error,
    }
    return HistoryRow(**{**values, **fields})


@pytest.mark.parametrize(
    "text",
    [".*", "(x+)[y]?", "$where", '{"$gt": ""}', "^a|b$", "\\d{3}", "a.b", "[[:alpha:]]", "#"],
)
def test_a_search_pattern_matches_only_the_literal_text(text: str) -> None:
    pattern = re.compile(literal_pattern(text), re.IGNORECASE)
    assert pattern.search(f"before {text} after")
    assert not pattern.search("before after: nothing special here 123")


def test_a_search_names_the_types_and_statuses_it_is_part_of() -> None:
    search = row_search("  E ")
    assert search is not None
    assert (search.text, search.types, search.statuses) == (
        "E",
        (
            "user",
            "device",
            "servicePrincipal",
            "directoryRole",
            "administrativeUnit",
            "roleEligibility",
        ),
        ("Succeeded", "Failed", "Cancelled"),
    )
    assert row_search("   ") is None
    dot = row_search(".")
    assert dot is not None and (dot.types, dot.statuses) == ((), ())
    assert dot.matches("user", "Failed", "a.b") and not dot.matches("user", "Failed", "ab")


def test_a_page_starts_in_the_day_that_holds_its_first_row() -> None:
    days = [(D, 30), (D - timedelta(days=1), 50), (D - timedelta(days=3), 5)]
    assert locate(days, 0) == PageStart(D, 0)
    assert locate(days, 29) == PageStart(D, 29)
    assert locate(days, 30) == PageStart(D - timedelta(days=1), 0)
    assert locate(days, 84) == PageStart(D - timedelta(days=3), 4)
    assert locate(days, 85) is None
    assert locate([], 0) is None


def test_rows_expire_by_whole_days_just_as_they_leave_the_window() -> None:
    started = D + timedelta(hours=23, minutes=59)
    assert day_of(started) == D
    assert expiry(started, 90) == D + timedelta(days=91)
    # On the day it expires, its day is no longer in the window.
    assert window_start(D + timedelta(days=91), 90) == D + timedelta(days=1)
    assert window_start(D + timedelta(days=90, hours=23), 90) == D


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_formula_looking_cells_get_an_apostrophe(cell: str, shown: str) -> None:
    assert neutralise(cell) == shown


def test_the_csv_is_rfc4180_with_iso_utc_times() -> None:
    text = encode([row(), row('=cmd|"/c calc", then\nmore', run_id="r2")], header=True)
    assert text.count("\r\n") == 3  # the line break inside the quoted cell stays as it is
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert table[0] == list(HEADER)
    assert table[1] == [
        "2025-03-10T01:00:00.005Z",
        "2025-03-10T01:00:07.000Z",
        "user",
        "12",
        "3",
        "1",
        "2",
        "Succeeded",
        "delta",
        "schedule",
        "",
        "r1",
        "1",
    ]
    assert table[2][10] == '\'=cmd|"/c calc", then\nmore'
    assert '"\'=cmd|""/c calc"", then\nmore"' in text
    assert encode([row()], header=False).count("\r\n") == 1


def test_the_csv_ends_each_row_with_the_runs_attempts() -> None:
    table = list(csv.reader(io.StringIO(encode([row(attempts=3)], header=True), newline="")))
    assert table[0][-1] == "Attempts" and table[0][:12] == list(HEADER[:12])
    assert table[1][-1] == "3"


def test_iso_utc_converts_other_zones_and_leaves_no_offset() -> None:
    from zoneinfo import ZoneInfo

    oslo = datetime(2025, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Oslo"))
    assert iso_utc(oslo) == "2025-06-01T10:00:00.000Z"
    assert iso_utc(None) == ""
