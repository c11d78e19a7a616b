"""Page arithmetic over per-day row counts, so no query skips more than one day of rows.

History keeps how many Sync History rows each tenant has per UTC day (and type and status). A
page's first row is found by walking those counts newest day first; the database then skips
only within that day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAY = timedelta(days=1)


def day_of(moment: datetime) -> datetime:
    """The UTC day (midnight) a moment falls on."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def window_start(now: datetime, retention_days: int) -> datetime:
    """The first day still shown: rows of older days have expired (or are about to)."""
    return day_of(now) - retention_days * DAY


def expiry(started_at: datetime, retention_days: int) -> datetime:
    """When a row (and its day's count) may be removed: the end of its day plus the retention.

    Whole days expire together, so a day is either entirely inside the window or outside it,
    and the per-day counts stay exact.
    """
    return day_of(started_at) + DAY + retention_days * DAY


@dataclass(frozen=True)
class PageStart:
    """Where a page begins: the rows before the end of `day`, after skipping `skip` of them."""

    day: datetime
    skip: int


def locate(day_counts: Iterable[tuple[datetime, int]], offset: int) -> PageStart | None:
    """The start of the row at `offset` (0-based, newest first); None when past the end.

    `day_counts` are (day, rows) pairs, newest day first.
    """
    for day, rows in day_counts:
        if offset < rows:
            return PageStart(day, offset)
        offset -= rows
    return None
