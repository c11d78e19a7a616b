"""The scheduler's NATS side: config's tenant list, the command work queue (sync runs and
subscription commands)."""

from __future__ import annotations

import logging

from entrasync_shared.catalog import ConfigApi
from entrasync_shared.kit.api import ApiClient
from entrasync_shared.messages import Tenant
from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker

from entrasync_scheduler.domain import Planned, PlannedSubscriptions

log = logging.getLogger("entrasync.scheduler")

PUBLISH_TIMEOUT = 5.0


class NatsConfigApi:
    """Implements `TenantSource` with config's `tenant.list` request-reply API."""

    def __init__(self, broker: NatsBroker, names: Names, timeout: float) -> None:
        self._config = ApiClient(lambda: broker.connection, names, timeout=timeout)

    async def list_tenants(self) -> list[Tenant]:
        return await self._config.call(ConfigApi.tenant_list)


class NatsCommands:
    """Implements `CommandSink` on the commands work-queue stream, deduplicated by slot."""

    def __init__(self, broker: NatsBroker, names: Names) -> None:
        self._broker, self._names = broker, names

    async def pending(self, tenant_id: str) -> int:
        """Commands of the tenant on the work queue: waiting, or running (not yet acked).

        Asked of JetStream itself, so every replica sees commands the others queued."""
        subject = self._names.sync_command(tenant_id)
        js = self._broker.connection.jetstream()
        info = await js.stream_info(self._names.commands_stream, subjects_filter=subject)
        return int((info.state.subjects or {}).get(subject, 0))

    async def start_sync(self, planned: Planned) -> bool:
        command = planned.command
        ack = await self._broker.publish(
            command,
            self._names.sync_command(command.tenant_id),
            headers={"Nats-Msg-Id": planned.msg_id},
            stream=self._names.commands_stream,
            timeout=PUBLISH_TIMEOUT,
        )
        return not (ack is not None and ack.duplicate)

    async def manage_subscriptions(self, planned: PlannedSubscriptions) -> None:
        command = planned.command
        await self._broker.publish(
            command,
            self._names.manage_subscriptions(command.tenant_id),
            headers={"Nats-Msg-Id": planned.msg_id},
            stream=self._names.commands_stream,
            timeout=PUBLISH_TIMEOUT,
        )
