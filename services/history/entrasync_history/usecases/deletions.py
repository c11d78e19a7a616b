"""Deleted tenants stay deleted: a tombstone first, then the purge or the cancelled runs; the
pipeline messages of a buried tenant are dropped, and a periodic sweep erases whatever a message
already in flight at the purge still wrote (an "erase" that leaves data behind is a privacy
defect).
"""

from __future__ import annotations

import logging

from entrasync_shared.messages import TenantDeleted

from entrasync_history.usecases import pipeline as services

log = logging.getLogger(__name__)


async def bury_tenant(ctx: services.Context, deleted: TenantDeleted) -> None:
    """config's `tenant.deleted`: the tombstone before anything else, so that from now on no
    batch or run event of the tenant is applied, then erase or keep its data as asked."""
    await ctx.store.bury(deleted.tenant_id, deleted.at, purged=deleted.purge_history)
    await services.forget_tenant(ctx, deleted)


async def is_buried(ctx: services.Context, tenant_id: str) -> bool:
    """Whether a pipeline message of `tenant_id` must be dropped (its tenant was deleted)."""
    return await ctx.store.buried(tenant_id)


async def sweep_purged(ctx: services.Context) -> dict[str, int]:
    """Erase again every purged tenant; returns the documents found per tenant (stragglers)."""
    found: dict[str, int] = {}
    for tenant_id in await ctx.store.purged_tenants():
        removed = await ctx.store.purge_tenant(tenant_id)
        if any(removed.values()):
            log.warning("purged tenant %s still had data, erased again: %s", tenant_id, removed)
            found[tenant_id] = sum(removed.values())
    return found
