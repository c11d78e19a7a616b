"""How the syncer answers Graph's responses: retry, re-authenticate, start over or fail, and
how long to wait before a retry."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, Literal

# Graph error codes meaning "this delta link is no longer usable: start over".
_RESYNC_CODES: Final = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
_RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})


Verdict = Literal["ok", "retry", "reauth", "resync", "fail"]


def classify(status: int, code: str = "", message: str = "") -> Verdict:
    """What to do with a Graph response of `status` carrying error `code` and `message`."""
    if 200 <= status < 300:
        return "ok"
    if status in _RETRYABLE_STATUS:
        return "retry"
    if status == 401:
        return "reauth"
    if status == 410:
        return "resync"
    if status == 400:
        if code.lower() in _RESYNC_CODES:
            return "resync"
        if "token" in message.lower():
            # "Badly formed token." and links issued for another resource or tenant.
            return "resync"
    return "fail"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (fractional seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying one Graph request: attempts, the total time spent waiting, and the
    longest `Retry-After` worth waiting for.

    A `Retry-After` is honoured in full: Graph keeps counting requests while a client is
    throttled (throttling.md), so a retry sent early is throttled again, for longer. One longer
    than `max_retry_after` fails the request at once, saying so, instead of waiting for it.
    """

    max_attempts: int = 10
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 300.0
    budget_seconds: float = 300.0

    def delay(
        self, attempt: int, retry_after: float | None, rng: random.Random | None = None
    ) -> float:
        """Wait before retry number `attempt` (1-based): Retry-After if given, else backoff."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)

    def too_long(self, retry_after: float | None) -> bool:
        """True when Graph asks for a longer wait than this syncer is configured to give."""
        return retry_after is not None and retry_after > self.max_retry_after

    def gives_up(self, attempt: int, waited: float, wait: float) -> bool:
        """True when retry `attempt` (waiting `wait` more after `waited`) is over budget."""
        return attempt >= self.max_attempts or waited + wait > self.budget_seconds


@dataclass(frozen=True)
class Redelivery:
    """When a sync command is delivered again, and when the syncer gives up on it.

    The limits are the syncer's own (JetStream's `max_deliver` would stop delivering without a
    word): an outage or a busy tenant is retried until `max_deliver` deliveries, anything else
    until `max_failed_deliveries` as well; each retry waits twice as long as the one before.
    """

    max_deliver: int = 10
    max_failed_deliveries: int = 5
    nak_delay: float = 5.0
    nak_delay_cap: float = 120.0

    def delay(self, attempt: int) -> float:
        """Seconds before delivery `attempt + 1`."""
        return float(min(self.nak_delay * 2 ** (attempt - 1), self.nak_delay_cap))

    @property
    def failure_limit(self) -> int:
        return min(self.max_failed_deliveries, self.max_deliver)
