"""What the scheduler's use case needs from the outside world, as roles; adapters implement them."""

from __future__ import annotations

from typing import Literal, Protocol

from entrasync_shared.messages import StartSync, SyncRecorded, Tenant

from entrasync_scheduler.domain import Planned, PlannedSubscriptions


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock epoch seconds (shared by replicas, so slots agree)."""


class TenantSource(Protocol):
    async def list_tenants(self) -> list[Tenant]:
        """Every tenant config holds; raises when config does not answer."""


class CommandSink(Protocol):
    async def start_sync(self, planned: Planned) -> bool:
        """Put the command on the work queue; raises when it could not. False when the queue
        already held a command with its id (another replica's)."""

    async def manage_subscriptions(self, planned: PlannedSubscriptions) -> None:
        """Put a subscription command for the syncer on the work queue; raises when it could
        not."""

    async def pending(self, tenant_id: str) -> int:
        """Commands of the tenant still on the queue (waiting or running); raises on trouble."""


SlotOutcome = Literal["queued", "busy", "failed"]


class ScheduleMetrics(Protocol):
    """What the scheduler reports for monitoring (docs/metrics.md)."""

    def slot(self, outcome: SlotOutcome, command: StartSync) -> None:
        """A due slot was acted on: its command queued, postponed (busy) or not sent."""

    def run_lost(self) -> None:
        """A run never reported back and was declared lost."""

    def run_recorded(self, recorded: SyncRecorded) -> None:
        """A run of a tenant ended (heard again after a restart: the same `run_id`)."""

    def tenant_gone(self, tenant_id: str) -> None:
        """The tenant was deleted: forget what was reported of it."""

    def notified(self, kind: str) -> None:
        """A change notification (or lifecycle event) of `kind` came from the receiver."""


class NoMetrics:
    """`ScheduleMetrics` that reports nothing (tests that do not look)."""

    def slot(self, outcome: SlotOutcome, command: StartSync) -> None:
        pass

    def run_lost(self) -> None:
        pass

    def run_recorded(self, recorded: SyncRecorded) -> None:
        pass

    def tenant_gone(self, tenant_id: str) -> None:
        pass

    def notified(self, kind: str) -> None:
        pass
