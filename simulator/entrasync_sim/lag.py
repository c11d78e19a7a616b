"""Replication lag: a change reaches delta rounds only some seconds after it was made.

delta-query-overview.md ("Processing delays"): "some requests might have replication delays for
objects that were recently created, updated, or deleted. Retry the `@odata.nextLink` or
`@odata.deltaLink` after some time to retrieve the latest changes." With a lag set, a round
started from a deltaLink ends at the directory sequence as it stood `seconds` ago; later
changes come in a later round (its deltaLink starts where this one ended, so none is lost).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass
class ReplicationLag:
    """One tenant's lag, and when each mutation since the oldest one still hidden was made."""

    seconds: float = 0.0
    _times: list[float] = field(default_factory=list)
    _before: list[int] = field(default_factory=list)

    def record(self, now: float, seq_before: int) -> None:
        """A mutation (or batch) made at `now`, the directory being at `seq_before` before it."""
        if self.seconds <= 0:
            return
        if self._times and now < self._times[-1]:  # the simulated clock moved back
            now = self._times[-1]
        self._times.append(now)
        self._before.append(seq_before)

    def visible(self, seq: int, now: float) -> int:
        """The directory sequence a round starting at `now` sees, the directory being at `seq`."""
        if not self._times:
            return seq
        hidden = bisect.bisect_right(self._times, now - self.seconds)
        if hidden:  # those have replicated: forget them
            del self._times[:hidden], self._before[:hidden]
        return self._before[0] if self._times else seq

    def describe(self) -> dict[str, float]:
        return {"seconds": self.seconds}
