"""The state one simulator process serves: tenants, clock, settings, faults and throttling."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from entrasync_sim.clock import Clock
from entrasync_sim.faults import FaultBook
from entrasync_sim.federation import IssuerKeys
from entrasync_sim.lag import ReplicationLag
from entrasync_sim.notifications import Notifier
from entrasync_sim.tenants import Tenant, TenantRegistry
from entrasync_sim.throttle import Throttle

SEVEN_DAYS = 7 * 24 * 3600


@dataclass
class Settings:
    """Process-wide knobs (`PATCH /_control/settings`)."""

    page_size: int = 200
    member_slice: int = 500
    token_lifetime: int = 3599
    delta_link_lifetime: int = SEVEN_DAYS

    def describe(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Simulator:
    """Everything the routes share; built once per process by the CLI (or by tests)."""

    tenants: TenantRegistry
    settings: Settings = field(default_factory=Settings)
    clock: Clock = field(default_factory=Clock)
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    faults: FaultBook = field(default_factory=FaultBook)
    throttle: Throttle = field(default_factory=Throttle)
    notifier: Notifier | None = None
    notifier_ca_file: str | None = None
    verified_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    # External issuers' published keys, for federated identity credentials.
    issuers: IssuerKeys = field(default_factory=IssuerKeys)
    # Replication lag per tenant GUID (none: changes reach delta rounds at once).
    lags: dict[str, ReplicationLag] = field(default_factory=dict)
    # Background renderings of full rounds: key → (directory seq at start, task).
    prerendering: dict[tuple[Any, ...], tuple[int, asyncio.Task[None]]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        if self.notifier is None:
            self.notifier = Notifier(self.clock, self.notifier_ca_file)
        for tenant in self.tenants:
            self.notifier.attach(tenant)

    def add_tenant(self, tenant: Tenant) -> None:
        """Serve one more tenant from now on (the control API's `POST /tenants`)."""
        self.tenants.add(tenant)
        self.notifications.attach(tenant)

    @property
    def notifications(self) -> Notifier:
        assert self.notifier is not None
        return self.notifier
