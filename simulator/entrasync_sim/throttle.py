"""Graph's identity throttling: resource units per app+tenant per 10 s, per app per 20 s.

Budgets follow Microsoft's published numbers (S < 50 users: 3,500; M ≤ 500: 5,000; L: 8,000)
unless overridden. Windows are fixed and start with the first request; throttled requests
still count, as Graph keeps logging usage while a client is throttled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

APP_TENANT_SCOPE = "Tenant_Application"
APP_SCOPE = "Application"


@dataclass
class ThrottleSettings:
    """What `PUT /_control/throttling` sets."""

    enabled: bool = True
    budget: int | None = None
    window: float = 10.0
    app_budget: int = 150_000
    app_window: float = 20.0

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
    """Resource units a GET costs: `users` lists 2, anything else 1; `$select` and a `$top`
    under 20 save one each; never below 1."""
    cost = 2 if path_kind == "users-list" else 1
    if "$select" in query:
        cost -= 1
    top = query.get("$top", "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(1, cost)


@dataclass
class _Window:
    started: float = 0.0
    used: int = 0

    def charge(self, now: float, length: float, cost: int) -> None:
        if now >= self.started + length or now < self.started:
            self.started, self.used = now, 0
        self.used += cost


@dataclass
class Verdict:
    """The outcome of charging one request: headers to add, and a wait when throttled."""

    headers: dict[str, str]
    retry_after: float | None = None
    scope: str = ""


@dataclass
class Throttle:
    settings: ThrottleSettings = field(default_factory=ThrottleSettings)
    _pairs: dict[tuple[str, str], _Window] = field(default_factory=dict)
    _apps: dict[str, _Window] = field(default_factory=dict)

    def reset(self) -> None:
        self._pairs.clear()
        self._apps.clear()

    def charge(self, now: float, tenant_id: str, app_id: str, users: int, cost: int) -> Verdict:
        """Count `cost` units for the pair and the app; say whether the request is throttled."""
        settings = self.settings
        headers = {"x-ms-resource-unit": str(cost)}
        if not settings.enabled:
            return Verdict(headers)
        budget = settings.budget or graph_budget(users)
        pair = self._pairs.setdefault((tenant_id, app_id), _Window())
        app = self._apps.setdefault(app_id, _Window())
        pair.charge(now, settings.window, cost)
        app.charge(now, settings.app_window, cost)
        if pair.used > budget:
            wait = pair.started + settings.window - now
            return Verdict(
                {}, max(wait, 0.001), f"{APP_TENANT_SCOPE}/ReadWrite/{app_id}/{tenant_id}"
            )
        if app.used > settings.app_budget:
            wait = app.started + settings.app_window - now
            return Verdict({}, max(wait, 0.001), f"{APP_SCOPE}/ReadWrite/{app_id}/{app_id}")
        use = max(pair.used / budget, app.used / settings.app_budget)
        if use > 0.8:
            headers["x-ms-throttle-limit-percentage"] = f"{min(use, 1.8):.2f}"
        return Verdict(headers)
