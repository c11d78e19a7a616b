"""What the syncer's entry points are given once the app has started (built in `main`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from entrasync_syncer.domain import Redelivery
from entrasync_syncer.ports import DeletionLog
from entrasync_syncer.usecases.subscriptions import SubscriptionDeps
from entrasync_syncer.usecases.sync import Deps


@dataclass(frozen=True)
class SyncerDeps:
    run: Deps
    redelivery: Redelivery
    deletions: DeletionLog
    connected: Callable[[], bool]
    subscriptions: SubscriptionDeps | None = None
