"""One definition of "a full success" (the contract's `SyncRecorded.is_full_success`): config
clears the tenant's full-scan flag on it, the scheduler counts it as the last full scan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from entrasync_shared.messages import SyncRecorded, TypeCounts

AT = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def recorded(status: str, *modes: str) -> SyncRecorded:
    types = [
        TypeCounts.model_validate(
            {"object_type": "user", "mode": mode, "reason": "flag", "status": status}
        )
        for mode in modes
    ]
    return SyncRecorded.model_validate(
        {
            "tenant_id": "t1",
            "run_id": "r1",
            "mode": "full",
            "reason": "flag",
            "status": status,
            "started_at": AT,
            "finished_at": AT,
            "types": types,
        }
    )


def test_a_succeeded_run_reading_every_type_in_full_is_a_full_success() -> None:
    assert recorded("Succeeded", "full", "full").is_full_success()


@pytest.mark.parametrize(
    ("status", "modes"),
    [
        ("Failed", ("full",)),
        ("Cancelled", ("full",)),
        ("Succeeded", ("full", "delta")),
        ("Succeeded", ("delta",)),
        ("Succeeded", ()),
    ],
)
def test_anything_less_is_not(status: str, modes: tuple[str, ...]) -> None:
    assert not recorded(status, *modes).is_full_success()
