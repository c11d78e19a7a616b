"""NATS messaging: run events and batches onto JetStream, credentials from config's API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import nats.errors
from entrasync_shared.catalog import ConfigApi
from entrasync_shared.kit.api import ApiClient
from entrasync_shared.messages import (
    Credential,
    Message,
    ObservationBatch,
    SyncFinished,
    SyncStarted,
    TenantRef,
)
from entrasync_shared.natsutil import ApiCallError
from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from pydantic import ValidationError

from entrasync_syncer.adapters import metrics
from entrasync_syncer.ports import CredentialRefused, InfrastructureError, TenantGone

log = logging.getLogger("entrasync.syncer.bus")

_NATS_FAILURES = (nats.errors.Error, TimeoutError)
_TRANSIENT_API_CODES = frozenset({"unavailable", "timeout"})


class JetStreamRunPublisher:
    """Implements `RunPublisher`: each message waits for its PubAck; `Nats-Msg-Id` = its id.
    What it published is counted in the metrics (objects, runs, type results)."""

    def __init__(
        self, broker: NatsBroker, names: Names, *, attempts: int = 3, timeout: float = 5.0
    ) -> None:
        self._broker = broker
        self._names = names
        self._attempts = attempts
        self._timeout = timeout

    async def started(self, event: SyncStarted) -> None:
        await self._publish(event, self._names.run_event(event.tenant_id, "started"))

    async def batch(self, batch: ObservationBatch) -> None:
        await self._publish(batch, self._names.observed(batch.tenant_id, batch.object_type))
        metrics.batch_published(batch)

    async def finished(self, event: SyncFinished) -> None:
        await self._publish(event, self._names.run_event(event.tenant_id, "finished"))
        metrics.run_finished(event)

    async def _publish(self, message: Message, subject: str) -> None:
        # Retrying is safe: the stream's duplicate window drops a copy with the same id.
        for attempt in range(1, self._attempts + 1):
            try:
                await self._broker.publish(
                    message,
                    subject,
                    headers={"Nats-Msg-Id": message.id},
                    stream=self._names.pipeline_stream,
                    timeout=self._timeout,
                )
                return
            except _NATS_FAILURES as exc:
                if attempt == self._attempts:
                    raise InfrastructureError(f"publishing {message.id}: {exc!r}") from exc
                log.warning("publishing %s failed (%r); retrying", message.id, exc)
                await asyncio.sleep(0.2 * 2**attempt)


class NatsCredentialSource:
    """Implements `CredentialSource` over config's `credential.get` request-reply API."""

    def __init__(
        self, connection: Callable[[], NatsClient], names: Names, *, timeout: float = 10.0
    ) -> None:
        self._config = ApiClient(connection, names, timeout=timeout)

    async def credential(self, tenant_id: str) -> Credential:
        try:
            return await self._config.call(ConfigApi.credential_get, TenantRef(tenant_id=tenant_id))
        except ApiCallError as exc:
            if exc.error.code == "not_found":
                raise TenantGone(f"tenant {tenant_id} no longer exists in config") from None
            if exc.error.code in _TRANSIENT_API_CODES:
                raise InfrastructureError(f"config credential.get: {exc}") from None
            raise CredentialRefused(f"config refused the credential: {exc}") from None
        except ValidationError:
            # Never echo the validation error: its input could hold the secret.
            raise CredentialRefused("config returned a malformed credential") from None
        except _NATS_FAILURES as exc:
            raise InfrastructureError(f"config credential.get: {exc!r}") from exc
