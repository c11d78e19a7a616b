"""Graph's identity throttling: token buckets of resource units per app+tenant and per app.

As throttling-limits.md describes it: "a token bucket algorithm, which works by adding individual
costs of requests". Each app+tenant pair holds a bucket of its budget (S < 50 users: 3,500; M up
to 500: 5,000; L: 8,000 units) refilled evenly over 10 s; each app one of 150,000 units refilled
over 20 s. A request takes its cost from both; with either bucket short it is throttled. Graph
"continues to log resource usage while a client is being throttled" (throttling.md), so a
throttled request still takes its cost: the bucket goes into debt, and a client retrying before
`Retry-After` is told to wait longer each time (up to `max_retry_after`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

APP_TENANT_SCOPE = "Tenant_Application"
APP_SCOPE = "Application"
# Base costs throttling-limits.md lists for the paths the simulator serves; any other GET costs 1.
BASE_COSTS = {"users-list": 2, "group-members": 3, "group-transitive-members": 5}


@dataclass
class ThrottleSettings:
    """What `PUT /_control/throttling` sets."""

    enabled: bool = True
    budget: int | None = None
    window: float = 10.0
    app_budget: int = 150_000
    app_window: float = 20.0
    max_retry_after: float = 300.0

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def graph_budget(users: int) -> int:
    """Resource units per app+tenant per 10 s by tenant size."""
    if users < 50:
        return 3_500
    if users <= 500:
        return 5_000
    return 8_000


def request_cost(path_kind: str, query: Mapping[str, str]) -> int:
    """Resource units a GET costs (throttling-limits.md): the path's base cost (`users` lists 2,
    `groups/{id}/members` 3, anything else 1); `$select` and a `$top` under 20 save one each,
    `$expand` adds one; never below 1."""
    cost = BASE_COSTS.get(path_kind, 1)
    if not query:
        return cost
    if "$select" in query:
        cost -= 1
    if "$expand" in query:
        cost += 1
    top = query.get("$top", "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(1, cost)


@dataclass
class _Bucket:
    tokens: float
    stamp: float

    def take(self, now: float, capacity: float, rate: float, cost: int, floor: float) -> float:
        """Refill for the time since the last request, take `cost` (into debt, down to `floor`,
        when short); the seconds until a request of the same cost would pass (0: it passes)."""
        if now > self.stamp:
            self.tokens = min(capacity, self.tokens + (now - self.stamp) * rate)
        self.stamp = now  # a clock moved back refills nothing
        self.tokens -= cost
        if self.tokens >= 0:
            return 0.0
        self.tokens = max(self.tokens, floor)
        return (cost - self.tokens) / rate

    def use(self, capacity: float) -> float:
        return 1.0 - self.tokens / capacity


@dataclass
class Verdict:
    """The outcome of charging one request: headers to add, and a wait when throttled."""

    headers: dict[str, str]
    retry_after: float | None = None
    scope: str = ""


@dataclass
class Throttle:
    settings: ThrottleSettings = field(default_factory=ThrottleSettings)
    _pairs: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _apps: dict[str, _Bucket] = field(default_factory=dict)

    def reset(self) -> None:
        self._pairs.clear()
        self._apps.clear()

    def charge(self, now: float, tenant_id: str, app_id: str, users: int, cost: int) -> Verdict:
        """Take `cost` units from the pair's and the app's buckets; say whether the request is
        throttled, and for how long."""
        settings = self.settings
        headers = {"x-ms-resource-unit": str(cost)}
        if not settings.enabled:
            return Verdict(headers)
        budget = settings.budget or graph_budget(users)
        pair_rate = budget / settings.window
        app_rate = settings.app_budget / settings.app_window
        pair = self._pairs.get((tenant_id, app_id))
        if pair is None:
            pair = self._pairs[(tenant_id, app_id)] = _Bucket(budget, now)
        app = self._apps.get(app_id)
        if app is None:
            app = self._apps[app_id] = _Bucket(settings.app_budget, now)
        longest = settings.max_retry_after
        pair_wait = pair.take(now, budget, pair_rate, cost, cost - longest * pair_rate)
        app_wait = app.take(now, settings.app_budget, app_rate, cost, cost - longest * app_rate)
        if pair_wait or app_wait:
            if pair_wait >= app_wait:
                scope = f"{APP_TENANT_SCOPE}/ReadWrite/{app_id}/{tenant_id}"
            else:
                scope = f"{APP_SCOPE}/ReadWrite/{app_id}/{app_id}"
            return Verdict({}, max(pair_wait, app_wait, 0.001), scope)
        use = max(pair.use(budget), app.use(settings.app_budget))
        if use > 0.8:
            headers["x-ms-throttle-limit-percentage"] = f"{min(use, 1.8):.2f}"
        return Verdict(headers)
