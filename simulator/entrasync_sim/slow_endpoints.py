"""Graph's throttling of slow notification endpoints, as change-notifications-delivery-
webhooks.md ("How Microsoft Graph handles throttling for change notifications using webhooks")
describes it.

A response slower than 2,900 ms is slow. Once an endpoint has answered 100 notifications, the
share of slow ones is computed; at 10% the endpoint is flagged and all its notifications are
throttled: delayed 10 minutes, failed ones retried after 10 minutes, and dropped outright
while the share is 15% or more. The counts are flushed every 10 minutes. Here responses are
counted per POST, on the simulated clock; the numbers can be lowered for tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["send", "delay", "drop"]


@dataclass
class SlowPolicy:
    """The documented thresholds (`enabled=False` never throttles)."""

    enabled: bool = True
    slow_after: float = 2.9
    min_responses: int = 100
    flag_share: float = 0.10
    drop_share: float = 0.15
    window: float = 600.0
    delay: float = 600.0

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def parse_policy(body: dict[str, Any]) -> SlowPolicy:
    """A policy from a control API body (omitted fields: the documented values)."""
    defaults = SlowPolicy().describe()
    unknown = set(body) - set(defaults)
    if unknown:
        raise ValueError(f"Unknown field {sorted(unknown)[0]}.")
    values = {**defaults, **body}
    if not isinstance(values["enabled"], bool):
        raise ValueError("enabled must be true or false.")
    if not isinstance(values["min_responses"], int) or values["min_responses"] < 1:
        raise ValueError("min_responses must be an integer >= 1.")
    for name in ("slow_after", "flag_share", "drop_share", "window", "delay"):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a number >= 0.")
    for name in ("flag_share", "drop_share"):
        if values[name] > 1:
            raise ValueError(f"{name} must be a share from 0 to 1.")
    return SlowPolicy(**values)


@dataclass
class _Window:
    started: float
    responses: int = 0
    slow: int = 0


@dataclass
class SlowEndpoints:
    """Per notification URL: the current window's responses and whether it is flagged."""

    policy: SlowPolicy = field(default_factory=SlowPolicy)
    _windows: dict[str, _Window] = field(default_factory=dict)
    _flagged: set[str] = field(default_factory=set)

    def record(self, url: str, seconds: float, now: float) -> None:
        """Count one response of `url` that took `seconds` (a timeout counts as slow)."""
        window = self._window(url, now)
        window.responses += 1
        window.slow += seconds > self.policy.slow_after
        if self.policy.enabled and window.responses >= self.policy.min_responses:
            if self._share(window) >= self.policy.flag_share:
                self._flagged.add(url)

    def verdict(self, url: str, now: float) -> Verdict:
        """What happens to a notification for `url` now."""
        window = self._window(url, now)
        if not self.policy.enabled or url not in self._flagged:
            return "send"
        return "drop" if self._share(window) >= self.policy.drop_share else "delay"

    def flagged(self, url: str) -> bool:
        return self.policy.enabled and url in self._flagged

    def _window(self, url: str, now: float) -> _Window:
        window = self._windows.get(url)
        if window is None or now - window.started >= self.policy.window:
            window = self._windows[url] = _Window(now)
            self._flagged.discard(url)
        return window

    @staticmethod
    def _share(window: _Window) -> float:
        return window.slow / window.responses if window.responses else 0.0
