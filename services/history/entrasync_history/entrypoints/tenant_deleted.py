"""config's `tenant.deleted`: purge the tenant's data when asked, else cancel its runs."""

from __future__ import annotations

from entrasync_shared import catalog
from entrasync_shared.kit.consumers import Delivery, DurableConsumer, Malformed
from entrasync_shared.messages import TenantDeleted
from entrasync_shared.storable import unstorable

from entrasync_history.entrypoints.deps import Deps
from entrasync_history.usecases import deletions

tenant_deleted = DurableConsumer[Deps](catalog.durable("history", "tenant-deleted"), ack_wait=300)


@tenant_deleted.handles
async def on_tenant_deleted(deleted: TenantDeleted, deps: Deps, delivery: Delivery) -> None:
    problem = unstorable(deleted.model_dump(mode="json"))
    if problem is not None:
        raise Malformed(f"cannot be stored: {problem}")
    await deletions.bury_tenant(deps.ctx, deleted)
