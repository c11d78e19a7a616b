"""A token bucket per tenant: the rate of notification POSTs a tenant may cause (pure).

Each accepted POST takes one token from each tenant it names; a tenant's bucket refills at
`rate` tokens a second up to `burst`. A POST naming a tenant with no token left is refused
(429) and takes nothing from any bucket, with the seconds until a token is back (the
`Retry-After`). The limit is per replica: with N replicas a tenant gets up to N times the rate,
which only loosens a bound that is there against floods, not for accounting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class TenantRateLimit:
    """`take(tenants, now)`: None when every tenant had a token (now taken), else the whole
    seconds to wait. `now` is a monotonic clock reading in seconds."""

    rate: float
    burst: float
    max_tenants: int = 10_000
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _level(self, tenant: str, now: float) -> _Bucket:
        bucket = self._buckets.get(tenant)
        if bucket is None:
            if len(self._buckets) >= self.max_tenants:
                self._forget_full(now)
            bucket = self._buckets[tenant] = _Bucket(self.burst, now)
            return bucket
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
        bucket.at = now
        return bucket

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: a fresh one is the same (bounds the memory)."""
        full = [
            tenant
            for tenant, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.at) * self.rate >= self.burst
        ]
        for tenant in full:
            del self._buckets[tenant]

    def take(self, tenants: Iterable[str], now: float) -> int | None:
        buckets = [self._level(tenant, now) for tenant in dict.fromkeys(tenants)]
        short = [b for b in buckets if b.tokens < 1.0]
        if short:
            wait = max((1.0 - b.tokens) / self.rate for b in short)
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1.0
        return None
