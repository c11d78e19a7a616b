"""The state one simulator process serves: tenants, clock, signing key and limits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from entrasync_sim.clock import Clock
from entrasync_sim.tenants import TenantRegistry


@dataclass
class Simulator:
    """Everything the routes share; built once per process by the CLI (or by tests)."""

    tenants: TenantRegistry
    page_size: int = 200
    member_slice: int = 500
    token_lifetime: int = 3599
    clock: Clock = field(default_factory=Clock)
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
