"""Which directory a tenant is: resolved at create time, recorded later, one tenant each
(the rules are in `domain.directories`)."""

from __future__ import annotations

import asyncio

from entrasync_shared.messages import CloudEndpoints, ConnectionTestResult, Tenant

from entrasync_config.domain.directories import described, is_guid, unsaved_duplicate
from entrasync_config.domain.errors import Conflict
from entrasync_config.domain.model import ProbeFailure
from entrasync_config.ports import Deps

RESOLVE_TIMEOUT = 10.0


async def resolve_directory(
    tenant: str, endpoints: CloudEndpoints | None, deps: Deps
) -> str | None:
    """The directory's GUID, or None when it cannot be resolved now (see the module doc)."""
    if is_guid(tenant):
        return tenant
    if endpoints is None:
        return None
    timeout = min(RESOLVE_TIMEOUT, deps.test_timeout)
    try:
        async with asyncio.timeout(timeout):
            guid = await deps.probe.discover(endpoints, tenant, timeout)
    except (ProbeFailure, TimeoutError, OSError):  # OSError: DNS, TLS, an unusable CA file
        return None
    return guid.lower() if is_guid(guid.lower()) else None


async def refuse_a_second_tenant(guid: str | None, cloud: str, deps: Deps) -> None:
    if guid is None:
        return
    holder = await deps.tenants.holding_directory(guid, cloud)
    if holder is not None:
        raise Conflict(
            f"this directory ({guid}) is already added as tenant {described(holder)}: "
            "one directory is synced by one tenant; change that tenant instead",
            field="tenant",
        )


async def record_directory(tenant_id: str, guid: str | None, deps: Deps) -> Tenant | None:
    """Store a GUID learnt after creation; returns another tenant of the same directory."""
    if not is_guid(guid):
        return None
    assert guid is not None
    return await deps.tenants.record_directory(tenant_id, guid.lower())


async def flag_unsaved_duplicate(
    result: ConnectionTestResult, cloud: str, deps: Deps
) -> ConnectionTestResult:
    """`result`, flagged when its directory is already another tenant (`unsaved_duplicate`)."""
    if not is_guid(result.tenant_guid):
        return result
    assert result.tenant_guid is not None
    holder = await deps.tenants.holding_directory(result.tenant_guid.lower(), cloud)
    return unsaved_duplicate(result, holder)
