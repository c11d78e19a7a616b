"""The syncer's request-reply API (catalog: `SyncerApi`): its health only."""

from __future__ import annotations

from entrasync_shared.catalog import NoArguments, SyncerApi
from entrasync_shared.kit.api import ApiRouter
from entrasync_shared.messages import Health

from entrasync_syncer.entrypoints.deps import SyncerDeps

api = ApiRouter[SyncerDeps]("syncer", "Reads tenants' directories from Microsoft Graph.")


@api.handles(SyncerApi.health)
async def health(request: NoArguments, deps: SyncerDeps) -> Health:
    return Health(service="syncer", ok=deps.connected())
