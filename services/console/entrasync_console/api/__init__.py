"""The REST API under `/api/v1`: the seed page's resources for scripts (and the UI's scripts).

Each route translates HTTP into one shared request model, calls one service API over NATS and
returns the service's answer; services' error codes become HTTP statuses in `core.errors`.
"""

from __future__ import annotations

from entrasync_console.api import effective, history, meta, privileged, profiles, tenants
from entrasync_console.api.common import router, schemas

ROUTE_MODULES = (meta, profiles, tenants, history, privileged, effective)
"""Imported for their routes, which they add to `router`."""

__all__ = ["ROUTE_MODULES", "router", "schemas"]
