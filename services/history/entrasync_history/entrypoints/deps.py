"""What history's entry points are given once the app has started (built in `main`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from entrasync_shared.kit.consumers import ConsumerStats
from entrasync_shared.subjects import Names

from entrasync_history.ports import DeadLetters, HistoryQueries, HistoryStore
from entrasync_history.usecases.pipeline import Context, TenantLocks


@dataclass
class Stats:
    """What this process did since it started (shown by the health API): history's own counts,
    and its two consumers' outcomes (the kit counts those)."""

    applied: int = 0
    recorded: int = 0
    dropped: int = 0  # pipeline messages of deleted tenants
    swept: int = 0  # documents of purged tenants erased again by the sweep
    partitions: tuple[ConsumerStats, ...] = field(default_factory=lambda: (ConsumerStats(),))
    tenant_deleted: ConsumerStats = field(default_factory=ConsumerStats)

    @property
    def pipeline(self) -> ConsumerStats:
        """The pipeline consumers' outcomes, all partitions together."""
        total = ConsumerStats("history", "pipeline")
        for stats in self.partitions:
            total.handled += stats.handled
            total.parked += stats.parked
            total.retried += stats.retried
        return total

    @property
    def dead_lettered(self) -> int:
        return self.pipeline.parked + self.tenant_deleted.parked

    @property
    def retried(self) -> int:
        return self.pipeline.retried + self.tenant_deleted.retried

    def details(self) -> dict[str, str]:
        counts = {
            "applied": self.applied,
            "recorded": self.recorded,
            "dead_lettered": self.dead_lettered,
            "retried": self.retried,
            "dropped": self.dropped,
            "swept": self.swept,
        }
        return {name: str(value) for name, value in counts.items()}


@dataclass(frozen=True)
class Deps:
    names: Names
    ctx: Context
    store: HistoryStore
    queries: HistoryQueries
    dead_letters: DeadLetters
    retry_delay: float
    finish_wait: float
    max_failed_deliveries: int = 5
    stats: Stats = field(default_factory=Stats)
    locks: TenantLocks = field(default_factory=lambda: TenantLocks())
    """Per tenant, held by the pipeline handler and the held-finish and outbox loops: one
    writer of a tenant at a time in this process (partitions keep replicas apart)."""
