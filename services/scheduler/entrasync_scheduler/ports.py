"""What the scheduler's use case needs from the outside world, as roles; adapters implement them."""

from __future__ import annotations

from typing import Protocol

from entrasync_shared.messages import Tenant

from entrasync_scheduler.domain import Planned


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock epoch seconds (shared by replicas, so slots agree)."""


class TenantSource(Protocol):
    async def list_tenants(self) -> list[Tenant]:
        """Every tenant config holds; raises when config does not answer."""


class CommandSink(Protocol):
    async def start_sync(self, planned: Planned) -> None:
        """Put the command on the work queue; raises when it could not."""

    async def pending(self, tenant_id: str) -> int:
        """Commands of the tenant still on the queue (waiting or running); raises on trouble."""
