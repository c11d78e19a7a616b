"""The simulator's notion of "now", kept in one place so it can be moved in tests later."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall clock plus an adjustable offset (delta-link expiry and token expiry read it)."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        """Current simulated time, timezone-aware UTC."""
        return datetime.now(UTC) + self._offset

    def timestamp(self) -> int:
        """Current simulated time as whole POSIX seconds."""
        return int(self.seconds())

    def seconds(self) -> float:
        """Current simulated time as POSIX seconds (no datetime built: every request asks)."""
        return time.time() + self._offset.total_seconds()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward (negative values move it back)."""
        self._offset += timedelta(seconds=seconds)


def isoformat(moment: datetime) -> str:
    """Graph's timestamp format: `2024-01-02T03:04:05Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
