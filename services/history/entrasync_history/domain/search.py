"""Free-text search of Sync History rows: what a user typed is a literal, never a pattern.

The search finds what the Sync History table shows:

- text is matched case-insensitively as a substring of a row's type, status and error text.
  Type and status are small closed sets, so the text is resolved against them here, in Python;
  only the error text is matched in the database, with every regex metacharacter escaped;
- a number ("42", "1,250") also finds the rows one of whose counts (Total, Changed, Deleted,
  Filtered) equals it;
- a date as the console shows it ("2025-03-10", "2025-03-10 01:0", "2025-03-10 01:00:05 UTC")
  finds the rows whose Start Time begins with it. The rows' sort key starts with the same
  characters (a `T` for the space), so such a search is a key range, never a scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import get_args

from entrasync_shared.messages import HistoryRow, RunStatus, TypeCounts
from entrasync_shared.subjects import OBJECT_TYPES, ObjectType

RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)


SHOWN_TIME = "0000-00-00 00:00:00"
"""The shape of a time in the console (`%Y-%m-%d %H:%M:%S UTC`): digits where the 0s are."""
_NUMBER = re.compile(r"^(\d{1,3}(,\d{3})+|\d{1,9})$")


@dataclass(frozen=True)
class RowSearch:
    """A search resolved: the types and statuses it names, and a safe pattern for error text.

    `started` (a date search) is the prefix of the rows' sort key their start must begin with;
    `number` is the count a number search looks for.
    """

    text: str
    types: tuple[ObjectType, ...]
    statuses: tuple[RunStatus, ...]
    started: str | None = None
    number: int | None = None

    @property
    def error_pattern(self) -> str:
        return literal_pattern(self.text)

    def matches(self, object_type: str, status: str, error: str | None) -> bool:
        return (
            object_type in self.types
            or status in self.statuses
            or (error is not None and self.text.casefold() in error.casefold())
        )

    def matches_row(self, row: HistoryRow) -> bool:
        """The whole rule on one row (what the database queries must agree with)."""
        if self.started is not None:
            started = row.started_at.astimezone(UTC) if row.started_at.tzinfo else row.started_at
            return started.strftime("%Y-%m-%dT%H:%M:%S").startswith(self.started)
        counts = (row.total, row.changed, row.deleted, row.filtered)
        by_number = self.number is not None and self.number in counts
        return by_number or self.matches(row.object_type, row.status, row.error)


def literal_pattern(text: str) -> str:
    """A regular expression matching `text` literally (every metacharacter escaped)."""
    return re.escape(text)


def shown_start(text: str) -> str | None:
    """The sort-key prefix of the rows whose Start Time, as shown, begins with `text`.

    Only text that starts like a shown time does ("2025-", "2025-03-10 01:0"); a year alone
    is a number. A trailing " UTC" (or part of it) is allowed.
    """
    date_time, zone = text[: len(SHOWN_TIME)], text[len(SHOWN_TIME) :]
    if zone and not " UTC".startswith(zone.upper()):
        return None
    if len(date_time) < 5:
        return None
    for char, shape in zip(date_time, SHOWN_TIME, strict=False):
        fits = char.isdigit() if shape == "0" else char == shape or (shape == " " and char in "Tt")
        if not fits or not char.isascii():
            return None
    return date_time.upper().replace(" ", "T")


def shown_number(text: str) -> int | None:
    """The count a number search looks for ("1,250" as the table may show it), or None."""
    return int(text.replace(",", "")) if _NUMBER.match(text) else None


def row_search(text: str) -> RowSearch | None:
    """The search for `text`, or None when there is nothing to search for."""
    text = text.strip()
    if not text:
        return None
    started = shown_start(text)
    if started is not None:
        return RowSearch(text=text, types=(), statuses=(), started=started)
    folded = text.casefold()
    return RowSearch(
        text=text,
        types=tuple(t for t in OBJECT_TYPES if folded in t.casefold()),
        statuses=tuple(s for s in RUN_STATUSES if folded in s.casefold()),
        number=shown_number(text),
    )


def run_has_changes(types: Iterable[TypeCounts]) -> bool:
    """Whether a recorded run is one the "changes or errors" filter keeps: something changed
    or was deleted, a type failed or was cancelled."""
    return any(t.changed or t.deleted or t.error or t.status != "Succeeded" for t in types)
