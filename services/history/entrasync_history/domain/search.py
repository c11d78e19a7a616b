"""Free-text search of Sync History rows: what a user typed is a literal, never a pattern.

The text is matched case-insensitively as a substring of a row's type, status and error text.
Type and status are small closed sets, so the text is resolved against them here, in Python;
only the error text is matched in the database, with every regex metacharacter escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import get_args

from entrasync_shared.messages import RunStatus
from entrasync_shared.subjects import OBJECT_TYPES, ObjectType

RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)


@dataclass(frozen=True)
class RowSearch:
    """A search resolved: the types and statuses it names, and a safe pattern for error text."""

    text: str
    types: tuple[ObjectType, ...]
    statuses: tuple[RunStatus, ...]

    @property
    def error_pattern(self) -> str:
        return literal_pattern(self.text)

    def matches(self, object_type: str, status: str, error: str | None) -> bool:
        return (
            object_type in self.types
            or status in self.statuses
            or (error is not None and self.text.casefold() in error.casefold())
        )


def literal_pattern(text: str) -> str:
    """A regular expression matching `text` literally (every metacharacter escaped)."""
    return re.escape(text)


def row_search(text: str) -> RowSearch | None:
    """The search for `text`, or None when there is nothing to search for."""
    text = text.strip()
    if not text:
        return None
    folded = text.casefold()
    return RowSearch(
        text=text,
        types=tuple(t for t in OBJECT_TYPES if folded in t.casefold()),
        statuses=tuple(s for s in RUN_STATUSES if folded in s.casefold()),
    )
