"""The receiver's request-reply API (catalog: `ReceiverApi`): its health only."""

from __future__ import annotations

from collections.abc import Callable

from entrasync_shared.catalog import NoArguments, ReceiverApi
from entrasync_shared.kit.api import ApiRouter
from entrasync_shared.messages import Health

Connected = Callable[[], bool]

api = ApiRouter[Connected]("receiver", "Receives Microsoft Graph change notifications.")


@api.handles(ReceiverApi.health)
async def health(request: NoArguments, connected: Connected) -> Health:
    return Health(service="receiver", ok=connected())
