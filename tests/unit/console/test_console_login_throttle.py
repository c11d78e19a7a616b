"""Login throttling per (address, user) with growing waits, and whose address counts."""

from __future__ import annotations

from entrasync_console.core.auth import LoginThrottle
from entrasync_console.core.security import client_address
from entrasync_console.settings import proxy_networks
from starlette.requests import Request


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: FakeClock) -> LoginThrottle:
    return LoginThrottle(max_failures=3, first_delay=1, max_delay=30, window=60, clock=clock)


def test_failures_past_the_limit_wait_longer_and_longer_up_to_the_cap() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    waits = []
    for _ in range(10):
        assert limiter.retry_after("10.0.0.1", "admin") == 0
        waits.append(limiter.failed("10.0.0.1", "admin"))
        clock.now += waits[-1]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 30, 30, 30]


def test_a_pair_waiting_is_told_how_long() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    for _ in range(4):
        limiter.failed("10.0.0.1", "admin")
    assert limiter.retry_after("10.0.0.1", "Admin") == 2
    clock.now += 1.5
    assert limiter.retry_after("10.0.0.1", "admin") == 1
    clock.now += 0.5
    assert limiter.retry_after("10.0.0.1", "admin") == 0


def test_failures_from_one_address_never_delay_another_address_or_user() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    for _ in range(20):
        limiter.failed("10.0.0.1", "admin")
    assert limiter.retry_after("10.0.0.1", "admin") > 0
    assert limiter.retry_after("10.0.0.2", "admin") == 0
    assert limiter.retry_after("10.0.0.1", "alice") == 0


def test_a_success_or_a_quiet_window_forgets_the_failures() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    for _ in range(5):
        limiter.failed("10.0.0.1", "admin")
    limiter.succeeded("10.0.0.1", "admin")
    assert limiter.retry_after("10.0.0.1", "admin") == 0
    assert limiter.failed("10.0.0.1", "admin") == 0
    for _ in range(4):
        limiter.failed("10.0.0.1", "admin")
    clock.now += 4 + 60  # the last wait, then the quiet window
    assert limiter.failed("10.0.0.1", "admin") == 0


def test_a_spray_of_made_up_names_keeps_memory_bounded_and_real_waits() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    for _ in range(3):
        limiter.failed("10.0.0.1", "admin")
    for n in range(LoginThrottle.MAX_PAIRS + 10):
        limiter.failed("10.0.0.9", f"nobody{n}")
    assert len(limiter._pairs) <= LoginThrottle.MAX_PAIRS
    assert limiter.retry_after("10.0.0.1", "admin") == 1


def request_from(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "headers": headers, "client": (peer, 50000)})


def test_x_forwarded_for_from_a_peer_that_is_no_trusted_proxy_is_ignored() -> None:
    assert client_address(request_from("127.0.0.1", "203.0.113.9"), ()) == "127.0.0.1"
    proxies = proxy_networks("10.0.0.0/8")
    assert client_address(request_from("127.0.0.1", "203.0.113.9"), proxies) == "127.0.0.1"


def test_a_trusted_proxy_names_the_client_as_the_rightmost_untrusted_hop() -> None:
    proxies = proxy_networks("10.0.0.0/8, 192.168.1.5")
    forged_then_real = request_from("10.1.2.3", "1.1.1.1, 203.0.113.9, 192.168.1.5")
    assert client_address(forged_then_real, proxies) == "203.0.113.9"
    assert client_address(request_from("::ffff:10.0.0.1", "203.0.113.7"), proxies) == "203.0.113.7"
    assert client_address(request_from("10.0.0.1"), proxies) == "10.0.0.1"
