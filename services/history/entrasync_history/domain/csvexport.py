"""The Sync History as CSV: RFC 4180, ISO 8601 UTC timestamps, no formula injection.

A spreadsheet treats a cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return
that hides one) as a formula. Such cells get a leading apostrophe, the mitigation OWASP
recommends: the text stays readable and is never evaluated.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime

from entrasync_shared.messages import HistoryRow

HEADER = (
    "Start Time",
    "End Time",
    "Type",
    "Total Objects",
    "Objects Changed",
    "Objects Deleted",
    "Objects Filtered",
    "Status",
    "Mode",
    "Reason",
    "Error",
    "Run Id",
    # Last, so consumers reading columns by position keep working.
    "Attempts",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """The cell as a spreadsheet will show it without evaluating it."""
    if cell.startswith(FORMULA_STARTS) or cell.lstrip().startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def iso_utc(moment: datetime | None) -> str:
    """ISO 8601 in UTC with milliseconds and a `Z`, or empty."""
    if moment is None:
        return ""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def row_cells(row: HistoryRow) -> list[str]:
    cells = [
        iso_utc(row.started_at),
        iso_utc(row.finished_at),
        row.object_type,
        str(row.total),
        str(row.changed),
        str(row.deleted),
        str(row.filtered),
        row.status,
        row.mode,
        row.reason,
        row.error or "",
        row.run_id,
        str(row.attempts),
    ]
    return [neutralise(cell) for cell in cells]


def encode(rows: Iterable[HistoryRow], *, header: bool) -> str:
    """CSV lines for `rows` (CRLF line ends, quoted where needed), the header line first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    if header:
        writer.writerow(HEADER)
    for row in rows:
        writer.writerow(row_cells(row))
    return out.getvalue()
