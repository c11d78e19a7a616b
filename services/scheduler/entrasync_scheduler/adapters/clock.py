"""The system's wall clock (`Clock`): epoch seconds, the same on every replica."""

from __future__ import annotations

import time


class SystemClock:
    def time(self) -> float:
        return time.time()
