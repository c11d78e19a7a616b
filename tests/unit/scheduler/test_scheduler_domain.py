from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_scheduler.domain import (
    Policy,
    TenantSchedule,
    choose_mode,
    expire_lost_run,
    jitter_offset,
    mark_started,
    next_due,
    plan_start,
    reconcile,
    record_run,
    track_tenant,
)
from entrasync_shared.messages import RunStatus, SyncMode, SyncRecorded, Tenant, TypeCounts

T0 = 1_800_000_000.0  # a slot boundary for every interval used here
NO_JITTER = Policy()
CREATED = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def tenant(**changes: Any) -> Tenant:
    fields: dict[str, Any] = {
        "id": "tenant-a",
        "name": "contoso",
        "tenant": "contoso.onmicrosoft.com",
        "cloud": "global",
        "profile_id": "p",
        "enabled": True,
        "full_scan_next": True,
        "object_types": ("user", "group"),
        "interval_seconds": 60,
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    return Tenant.model_validate({**fields, **changes})


def recorded(
    run_id: str,
    status: RunStatus = "Succeeded",
    modes: tuple[SyncMode, ...] = ("full", "full"),
    finished_at: datetime = CREATED + timedelta(minutes=1),
) -> SyncRecorded:
    return SyncRecorded(
        tenant_id="tenant-a",
        run_id=run_id,
        mode=modes[0],
        reason="first",
        status=status,
        started_at=finished_at - timedelta(seconds=30),
        finished_at=finished_at,
        types=tuple(
            TypeCounts(object_type=t, mode=m, reason="first", status=status)
            for t, m in zip(("user", "group"), modes, strict=True)
        ),
    )


def started(state: TenantSchedule, now: float) -> tuple[TenantSchedule, str]:
    planned = plan_start(state, now, NO_JITTER)
    assert planned is not None
    return mark_started(state, planned, now), planned.command.run_id


def test_a_new_tenant_runs_at_once_in_full_mode_for_its_first_scan() -> None:
    state = track_tenant(None, tenant(), T0 + 7)

    planned = plan_start(state, T0 + 7, NO_JITTER)

    assert planned is not None
    assert (planned.command.mode, planned.command.reason) == ("full", "first")
    assert planned.command.object_types == ("user", "group")
    assert planned.msg_id == f"tenant-a:{int((T0 + 7) // 60)}"


def test_replicas_plan_identical_commands_for_the_same_slot() -> None:
    one = plan_start(track_tenant(None, tenant(), T0 + 1), T0 + 1, NO_JITTER)
    other = plan_start(track_tenant(None, tenant(), T0 + 59), T0 + 59, NO_JITTER)

    assert one == other


def test_no_new_run_while_one_is_in_flight_then_the_next_slot_runs_delta() -> None:
    state, run_id = started(track_tenant(None, tenant(), T0 + 5), T0 + 5)

    assert plan_start(state, T0 + 120, NO_JITTER) is None
    state = record_run(state, recorded(run_id))
    assert plan_start(state, T0 + 59, NO_JITTER) is None
    planned = plan_start(state, T0 + 60, NO_JITTER)

    assert planned is not None
    assert (planned.command.mode, planned.command.reason) == ("delta", "schedule")
    assert planned.command.run_id != run_id


def test_a_run_that_finishes_late_is_followed_at_once_in_the_current_slot() -> None:
    state, run_id = started(track_tenant(None, tenant(), T0), T0)
    state = record_run(state, recorded(run_id))

    assert next_due(state, NO_JITTER) == T0 + 60
    planned = plan_start(state, T0 + 150, NO_JITTER)
    assert planned is not None and planned.slot == int((T0 + 150) // 60)


def test_a_failed_full_run_keeps_full_mode_with_reason_flag() -> None:
    state, run_id = started(track_tenant(None, tenant(), T0), T0)
    state = record_run(state, recorded(run_id, status="Failed"))

    assert choose_mode(state) == ("full", "flag")


def test_a_partial_full_run_does_not_count_as_a_full_scan() -> None:
    state = track_tenant(None, tenant(), T0)
    state = record_run(state, recorded("r", modes=("full", "delta")))

    assert choose_mode(state) == ("full", "flag")


def test_a_stale_flag_is_ignored_until_config_sets_it_again_after_the_full_run() -> None:
    done_at = CREATED + timedelta(minutes=5)
    state = record_run(track_tenant(None, tenant(), T0), recorded("r", finished_at=done_at))
    assert choose_mode(state) == ("delta", "schedule")

    stale = tenant(version=2, updated_at=done_at - timedelta(seconds=1))
    assert choose_mode(track_tenant(state, stale, T0)) == ("delta", "schedule")
    forced = tenant(version=3, updated_at=done_at + timedelta(seconds=1))
    assert choose_mode(track_tenant(state, forced, T0)) == ("full", "flag")


def test_a_tenant_with_history_but_a_set_flag_is_scanned_for_the_flag() -> None:
    state = track_tenant(None, tenant(version=4), T0)

    assert choose_mode(state) == ("full", "flag")


def test_a_disabled_tenant_never_runs() -> None:
    state = track_tenant(None, tenant(enabled=False), T0)

    assert next_due(state, NO_JITTER) is None
    assert plan_start(state, T0 + 10_000, NO_JITTER) is None


def test_an_older_tenant_version_does_not_overwrite_a_newer_one() -> None:
    state = track_tenant(None, tenant(version=3, enabled=False), T0)

    assert track_tenant(state, tenant(version=2), T0 + 1).tenant.enabled is False


def test_a_run_that_never_reports_back_is_declared_lost_and_rescheduled() -> None:
    state, _ = started(track_tenant(None, tenant(), T0), T0)

    assert expire_lost_run(state, T0 + 1799, lost_after=1800) is state
    revived = expire_lost_run(state, T0 + 1800, lost_after=1800)
    assert revived.in_flight is None
    assert plan_start(revived, T0 + 1800, NO_JITTER) is not None


def test_a_run_that_reports_back_before_it_is_marked_started_is_not_in_flight() -> None:
    state = track_tenant(None, tenant(), T0)
    planned = plan_start(state, T0, NO_JITTER)
    assert planned is not None

    state = record_run(state, recorded(planned.command.run_id))
    assert mark_started(state, planned, T0).in_flight is None


def test_jitter_is_stable_per_tenant_and_bounded_by_a_tenth_of_the_interval() -> None:
    offsets = {jitter_offset(f"tenant-{i}", 20, max_jitter=5) for i in range(50)}

    assert all(0 <= o < 2 for o in offsets) and len(offsets) > 40
    assert jitter_offset("x", 600, 5) == jitter_offset("x", 600, 5) < 5
    assert jitter_offset("x", 600, 0) == 0


def test_jittered_runs_stay_in_their_slot() -> None:
    state, run_id = started(track_tenant(None, tenant(id="t-j"), T0), T0)
    state = record_run(state, recorded(run_id))
    due = next_due(state, Policy(max_jitter=5))

    assert due is not None and T0 + 60 <= due < T0 + 65
    planned = plan_start(state, due, Policy(max_jitter=5))
    assert planned is not None and planned.slot == int(T0 // 60) + 1


def test_reconcile_drops_tenants_config_no_longer_has_unless_heard_of_since() -> None:
    old = track_tenant(None, tenant(id="old"), T0)
    fresh = track_tenant(None, tenant(id="fresh"), T0 + 10)
    states = {"old": old, "fresh": fresh}

    merged = reconcile(states, [tenant(id="b"), tenant(id="gone")], {"gone"}, T0 + 5, T0 + 11)

    assert set(merged) == {"b", "fresh"}


def test_a_failed_resync_makes_the_next_run_full_for_that_reason() -> None:
    done = record_run(track_tenant(None, tenant(), T0), recorded("r1"))
    failed = SyncRecorded.model_validate(
        {
            **recorded("r2", modes=("delta", "full")).model_dump(),
            "status": "Failed",
            "types": [
                TypeCounts(object_type="user", mode="delta", reason="schedule", status="Succeeded"),
                TypeCounts(object_type="group", mode="full", reason="resync", status="Failed"),
            ],
        }
    )

    state = record_run(done, failed)

    assert choose_mode(state) == ("full", "resync")
    assert choose_mode(record_run(state, recorded("r3"))) == ("delta", "schedule")


def test_a_periodic_full_scan_is_off_by_default_and_due_when_the_last_full_is_old() -> None:
    state = record_run(track_tenant(None, tenant(), T0), recorded("r1"))
    full_at = state.full_succeeded_at.timestamp()  # type: ignore[union-attr]
    weekly = Policy(full_scan_every=7 * 86400)

    assert choose_mode(state, full_at + 30 * 86400) == ("delta", "schedule")
    assert choose_mode(state, full_at + 6 * 86400, weekly) == ("delta", "schedule")
    assert choose_mode(state, full_at + 7 * 86400, weekly) == ("full", "periodic")


def test_long_intervals_are_shortened_so_delta_links_never_expire() -> None:
    weekly = tenant(interval_seconds=7 * 86400, full_scan_next=False)
    state, _ = started(track_tenant(None, weekly, T0), T0)
    state = replace(state, in_flight=None)

    due = next_due(state, NO_JITTER)
    planned = plan_start(state, T0 + 6 * 86400, NO_JITTER)

    assert due is not None and due - T0 <= 6 * 86400
    assert planned is not None and planned.command.reason == "refresh"


def test_a_lost_run_is_replaced_under_new_ids_even_within_its_slot() -> None:
    hourly = tenant(interval_seconds=3600)
    state, lost_run = started(track_tenant(None, hourly, T0), T0)

    revived = expire_lost_run(state, T0 + 600, lost_after=600)
    planned = plan_start(revived, T0 + 600, NO_JITTER)

    assert planned is not None and planned.command.run_id != lost_run
    assert planned.msg_id.startswith(f"tenant-a:{int(T0 // 3600)}.r")


def test_replicas_tag_a_re_enabled_tenant_identically() -> None:
    state, _ = started(track_tenant(None, tenant(full_scan_next=False), T0), T0)
    state = replace(state, in_flight=None)
    off = track_tenant(state, tenant(full_scan_next=False, enabled=False, version=2), T0 + 5)

    on = track_tenant(off, tenant(full_scan_next=False, version=3), T0 + 6)
    planned = plan_start(on, T0 + 6, NO_JITTER)

    assert planned is not None and planned.msg_id == f"tenant-a:{int(T0 // 60)}.v3"
