"""Config's entrypoints: the request-reply API and the `sync.recorded` consumer.

Every API handler reads the raw body itself so malformed JSON becomes an `invalid` error reply
instead of an unanswered request; nothing is stored when a request is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from entrasync_shared.deadletter import DeadLetters
from entrasync_shared.messages import (
    CredentialProfileCreate,
    Reply,
    SyncRecordedEvent,
    TenantCreate,
    TenantRef,
)
from entrasync_shared.natsutil import failed, ok
from entrasync_shared.subjects import Names
from faststream import AckPolicy
from faststream.nats import DeliverPolicy, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js.api import ConsumerConfig
from pydantic import BaseModel, ValidationError
from pymongo.errors import PyMongoError

from entrasync_config import domain
from entrasync_config.domain import ConfigError, Deps, Unavailable

log = logging.getLogger("entrasync.config")

RequestT = TypeVar("RequestT", bound=BaseModel)
ApiHandler = Callable[[NatsMessage], Awaitable[Reply[Any]]]
QUEUE = "entrasync-config"
RETRY_DELAY = 2.0
MAX_DELIVER = 50


def first_error(err: ValidationError) -> tuple[str | None, str]:
    """The first problem's field (dotted path, None for the whole body) and message."""
    first = err.errors(include_url=False, include_input=False)[0]
    return ".".join(str(part) for part in first["loc"]) or None, first["msg"]


def invalid_reply(err: ValidationError) -> Reply[Any]:
    field, message = first_error(err)
    return failed("invalid", message, field=field)


async def answer(
    body: bytes,
    request_type: type[RequestT] | None,
    use_case: Callable[[Any], Awaitable[Any]],
) -> Reply[Any]:
    """Parse, run, and turn every outcome into a reply; an API call never crashes the service."""
    try:
        request = request_type.model_validate_json(body or b"{}") if request_type else None
        return ok(await use_case(request))
    except ValidationError as err:
        return invalid_reply(err)
    except ConfigError as err:
        return failed(err.code, err.message, field=err.field)
    except PyMongoError as err:
        log.warning("database unavailable: %r", err)
        return failed("unavailable", "the config database is unavailable; retry later")
    except Exception:
        log.exception("unexpected error in an API call")
        return failed("internal", "internal error; see the config service log")


def register(broker: NatsBroker, names: Names, deps: Callable[[], Deps]) -> None:
    """Attach every subscriber; `deps()` yields the adapters once the app has started."""
    dead_letters = DeadLetters(broker, names, "config")

    def api(verb: str) -> Callable[[ApiHandler], object]:
        subject = names.api("config", verb)
        subscriber: Callable[[ApiHandler], object] = broker.subscriber(
            subject, queue=QUEUE, title=f"config.{verb}"
        )
        return subscriber

    @api("profile.create")
    async def on_profile_create(msg: NatsMessage) -> Reply[Any]:
        return await answer(
            msg.body, CredentialProfileCreate, lambda r: domain.create_profile(r, deps())
        )

    @api("profile.list")
    async def on_profile_list(msg: NatsMessage) -> Reply[Any]:
        return await answer(msg.body, None, lambda _: deps().profiles.list())

    @api("tenant.create")
    async def on_tenant_create(msg: NatsMessage) -> Reply[Any]:
        return await answer(msg.body, TenantCreate, lambda r: domain.create_tenant(r, deps()))

    @api("tenant.list")
    async def on_tenant_list(msg: NatsMessage) -> Reply[Any]:
        return await answer(msg.body, None, lambda _: deps().tenants.list())

    @api("tenant.get")
    async def on_tenant_get(msg: NatsMessage) -> Reply[Any]:
        return await answer(msg.body, TenantRef, lambda r: domain.get_tenant(r, deps()))

    @api("credential.get")
    async def on_credential_get(msg: NatsMessage) -> Reply[Any]:
        return await answer(msg.body, TenantRef, lambda r: domain.get_credential(r, deps()))

    @api("health")
    async def on_health(msg: NatsMessage) -> Reply[Any]:
        return await answer(msg.body, None, lambda _: domain.check_health(deps()))

    @broker.subscriber(
        names.sync_recorded_all,
        stream=JStream(names.events_stream, declare=False),
        durable=names.consumer("config", "sync-recorded"),
        deliver_policy=DeliverPolicy.NEW,
        pull_sub=PullSub(batch_size=16, timeout=1.0),
        config=ConsumerConfig(max_deliver=MAX_DELIVER, ack_wait=30),
        ack_policy=AckPolicy.MANUAL,
        title="config.sync_recorded",
    )
    async def on_sync_recorded(msg: NatsMessage) -> None:
        raw = msg.raw_message
        try:
            recorded = SyncRecordedEvent.model_validate_json(msg.body).data
        except ValidationError as err:
            seq = raw.metadata.sequence.stream
            field, message = first_error(err)
            reason = f"not a SyncRecorded: {field or 'body'}: {message}"
            await dead_letters.park(msg.body, raw.subject, reason, f"config:events:{seq}")
            await msg.ack()
            return
        try:
            tenant = await domain.record_sync(recorded, deps())
        except (Unavailable, PyMongoError) as err:
            log.warning("run %s not applied yet, will retry: %r", recorded.run_id, err)
            await msg.nack(delay=RETRY_DELAY)
            return
        except Exception:
            log.exception("run %s not applied because of a bug, will retry", recorded.run_id)
            await msg.nack(delay=10 * RETRY_DELAY)
            return
        if tenant is not None:
            log.info("full scan done for tenant %s (run %s)", tenant.id, recorded.run_id)
        await msg.ack()
