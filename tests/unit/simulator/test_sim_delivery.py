"""Delivery rules of change notifications: retry backoff, loss switches, slow endpoints."""

from __future__ import annotations

import pytest
from entrasync_sim.delivery import RETRY_WINDOW, DeliverySwitch, backoff, parse_switch
from entrasync_sim.slow_endpoints import SlowEndpoints, SlowPolicy, parse_policy


def test_retries_double_from_five_seconds_up_to_half_an_hour() -> None:
    waits = [backoff(attempt) for attempt in range(1, 13)]

    assert waits[:4] == [5, 10, 20, 40]
    assert max(waits) == 1800
    assert waits == sorted(waits)


def test_a_failing_endpoint_gets_about_fifteen_attempts_in_four_hours() -> None:
    elapsed, attempts = 0.0, 1
    while elapsed + backoff(attempts) <= RETRY_WINDOW:
        elapsed += backoff(attempts)
        attempts += 1

    assert RETRY_WINDOW == 4 * 3600
    assert 10 <= attempts <= 20


def test_drop_next_comes_before_the_probability() -> None:
    switch = DeliverySwitch(drop_next=2)

    assert [switch.drops() for _ in range(4)] == [True, True, False, False]
    assert switch.lost == 2


def test_a_seeded_loss_is_reproducible_and_a_loss_of_one_loses_all() -> None:
    def run(seed: int) -> list[bool]:
        switch = DeliverySwitch(loss=0.5, seed=seed)
        return [switch.drops() for _ in range(50)]

    assert run(3) == run(3)
    assert run(3) != run(4)
    assert all(DeliverySwitch(loss=1.0).drops() for _ in range(20))


@pytest.mark.parametrize(
    "body",
    [{"loss": 2}, {"delay": -1}, {"delay": 4000}, {"drop_next": 1.5}, {"seed": "x"}, {"x": 1}],
)
def test_bad_switches_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        parse_switch(body)


def _endpoints() -> SlowEndpoints:
    # Graph's thresholds, judged after 10 responses instead of 100.
    return SlowEndpoints(SlowPolicy(min_responses=10))


def test_an_endpoint_is_flagged_at_ten_percent_slow_after_enough_responses() -> None:
    endpoints = _endpoints()
    for n in range(9):
        endpoints.record("u", 3.0 if n == 0 else 0.1, now=0)

    assert endpoints.verdict("u", now=1) == "send"  # 9 responses: not judged yet
    endpoints.record("u", 0.1, now=2)
    assert endpoints.verdict("u", now=3) == "delay"  # 1 slow in 10: flagged, under 15%


def test_a_flagged_endpoint_at_fifteen_percent_slow_loses_notifications() -> None:
    endpoints = _endpoints()
    for n in range(20):
        endpoints.record("u", 3.0 if n < 3 else 0.1, now=0)

    assert endpoints.verdict("u", now=1) == "drop"
    assert endpoints.verdict("other", now=1) == "send"


def test_counts_and_flag_are_flushed_every_ten_minutes() -> None:
    endpoints = _endpoints()
    for _ in range(10):
        endpoints.record("u", 3.0, now=0)

    assert endpoints.verdict("u", now=599) == "drop"
    assert endpoints.verdict("u", now=600) == "send"


def test_a_timeout_of_three_seconds_is_slow_and_2_9_is_the_documented_line() -> None:
    assert SlowPolicy().slow_after == 2.9
    with pytest.raises(ValueError):
        parse_policy({"flag_share": 1.5})
    assert parse_policy({}) == SlowPolicy()
