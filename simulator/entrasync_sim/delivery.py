"""How change notifications travel: per-tenant delay and loss, Graph's retries, quotas.

Microsoft documents the delivery side of webhooks in change-notifications-delivery-webhooks.md:
a POST not answered with a 2xx within 3 seconds is sent again "multiple times, for up to 4
hours" and then discarded. The schedule itself is not published; here each retry waits twice
as long as the one before (5 s, 10 s, 20 s … at most 30 min), on the simulated clock, so a test
can move through the whole window with `advance_clock`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

RETRY_WINDOW = 4 * 3600.0
FIRST_RETRY = 5.0
LONGEST_RETRY = 1800.0
MAX_DELAY = 3600.0


@dataclass
class Delivery:
    """One POST of a batch to one URL, with its attempt count and retry deadline."""

    tenant_id: str
    url: str
    kind: str
    items: list[dict[str, Any]]
    first_at: float  # simulated seconds when the notifications were first handed over
    attempt: int = 1
    not_before: float = 0.0  # event-loop time: the tenant's delivery delay
    throttled: bool = False  # already held back once as a slow endpoint's


def backoff(attempt: int) -> float:
    """Seconds between attempt `attempt` (1 = the first POST) and the next one."""
    return min(FIRST_RETRY * 2 ** (attempt - 1), LONGEST_RETRY)


@dataclass
class DeliverySwitch:
    """One tenant's delivery conditions: a delay before the first POST and lost notifications.

    `drop_next` loses the next N change notifications outright (deterministic); past those,
    each is lost with probability `loss`, drawn from a generator seeded by `seed` so a test run
    is reproducible. A lost notification is never POSTed nor retried: for the receiver it never
    happened, as when Graph drops one.
    """

    delay: float = 0.0
    loss: float = 0.0
    drop_next: int = 0
    seed: int = 0
    lost: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def drops(self) -> bool:
        """Whether the next change notification is lost (counts it when it is)."""
        if self.drop_next > 0:
            self.drop_next -= 1
        elif not (self.loss and self._rng.random() < self.loss):
            return False
        self.lost += 1
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "delay": self.delay,
            "loss": self.loss,
            "drop_next": self.drop_next,
            "seed": self.seed,
            "lost": self.lost,
        }


def parse_switch(body: dict[str, Any]) -> DeliverySwitch:
    """A switch from a control API body; ValueError names the first bad field."""
    known = {"delay", "loss", "drop_next", "seed"}
    unknown = set(body) - known
    if unknown:
        raise ValueError(f"Unknown field {sorted(unknown)[0]}.")
    delay, loss = body.get("delay", 0.0), body.get("loss", 0.0)
    drop_next, seed = body.get("drop_next", 0), body.get("seed", 0)
    if not _number(delay) or not 0 <= delay <= MAX_DELAY:
        raise ValueError(f"delay must be a number of seconds from 0 to {MAX_DELAY:.0f}.")
    if not _number(loss) or not 0 <= loss <= 1:
        raise ValueError("loss must be a probability from 0 to 1.")
    if not _integer(drop_next) or drop_next < 0:
        raise ValueError("drop_next must be an integer >= 0.")
    if not _integer(seed):
        raise ValueError("seed must be an integer.")
    return DeliverySwitch(float(delay), float(loss), drop_next, seed)


@dataclass
class SubscriptionQuotas:
    """Graph's quotas on subscriptions to directory resources (users, groups), counted over
    unexpired subscriptions: per app and tenant, per tenant (all apps), per app (all
    tenants). Smaller values let a test reach a limit without creating 100 subscriptions."""

    per_app_and_tenant: int = 100
    per_tenant: int = 1000
    per_app: int = 50_000

    def describe(self) -> dict[str, int]:
        return {
            "per_app_and_tenant": self.per_app_and_tenant,
            "per_tenant": self.per_tenant,
            "per_app": self.per_app,
        }


def parse_quotas(body: dict[str, Any]) -> SubscriptionQuotas:
    defaults = SubscriptionQuotas().describe()
    unknown = set(body) - set(defaults)
    if unknown:
        raise ValueError(f"Unknown field {sorted(unknown)[0]}.")
    values = {**defaults, **body}
    for name, value in values.items():
        if not _integer(value) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0.")
    return SubscriptionQuotas(**values)


def _number(value: Any) -> bool:
    # bool is an int subclass: refuse it explicitly.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
