"""A run across its attempts: a killed syncer's command is redelivered and runs again under the
same run id, so the run spans from its first attempt's start to its last attempt's end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from entrasync_shared.messages import SyncFinished


@dataclass(frozen=True)
class RunStart:
    """What history knows of a run's starts: the first one, and the highest attempt seen."""

    started_at: datetime
    attempts: int = 1


def run_span(finished: SyncFinished, known: RunStart | None) -> RunStart:
    """The run's first start and attempt count once `finished` (its last attempt) is in.

    `finished.started_at` is its own attempt's start: an earlier recorded start wins.
    """
    if known is None:
        return RunStart(finished.started_at, finished.attempt)
    return RunStart(
        min(known.started_at, finished.started_at), max(known.attempts, finished.attempt)
    )
