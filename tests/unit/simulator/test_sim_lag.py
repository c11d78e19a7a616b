"""Replication lag: which directory sequence a delta round sees, given when changes were made."""

from __future__ import annotations

from entrasync_sim.lag import ReplicationLag


def test_without_a_lag_every_change_is_visible_at_once() -> None:
    lag = ReplicationLag(0)
    lag.record(100.0, 5)

    assert lag.visible(7, 100.0) == 7


def test_a_change_is_hidden_until_the_lag_has_passed() -> None:
    lag = ReplicationLag(30)
    lag.record(100.0, 5)  # the directory went from 5 to 6 at t=100
    lag.record(110.0, 6)  # and from 6 to 8 at t=110

    assert lag.visible(8, 105.0) == 5
    assert lag.visible(8, 131.0) == 6
    assert lag.visible(8, 140.0) == 8
    assert lag.visible(9, 140.0) == 9  # nothing hidden is remembered any longer


def test_a_clock_moved_back_never_hides_a_change_longer() -> None:
    lag = ReplicationLag(10)
    lag.record(100.0, 1)
    lag.record(50.0, 2)

    assert lag.visible(3, 111.0) == 3
