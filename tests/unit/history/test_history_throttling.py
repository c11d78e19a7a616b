"""The syncer's throttling wait reaches the Sync History row of its type."""

from __future__ import annotations

from entrasync_history.adapters.documents import final_row, history_row
from entrasync_history.domain.plans import final_counts
from entrasync_shared.messages import SyncRecorded
from history_fakes import finished


def test_a_types_throttling_wait_is_kept_in_its_history_row() -> None:
    done = finished("r1", {"user": 1, "group": 1})
    waited = done.results[0].model_copy(update={"throttled_seconds": 45.5})
    done = done.model_copy(update={"results": (waited, done.results[1])})

    counts = final_counts(done, {}, {}, {}, {})
    recorded = SyncRecorded(
        tenant_id=done.tenant_id,
        run_id=done.run_id,
        mode=done.mode,
        reason=done.reason,
        status="Succeeded",
        started_at=done.started_at,
        finished_at=done.finished_at,
        types=counts,
    )
    rows = [history_row(final_row(recorded, c)) for c in counts]

    assert [c.throttled_seconds for c in counts] == [45.5, 0.0]
    assert [r.throttled_seconds for r in rows] == [45.5, 0.0]
