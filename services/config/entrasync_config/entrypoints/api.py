"""Config's entrypoints: the request-reply API and the `sync.recorded` consumer.

Every API handler reads the raw body itself (strict JSON: `"yes"` is not a boolean), so
malformed input becomes a `validation` error reply instead of an unanswered request; nothing is
stored or published when a request is refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from entrasync_shared.deadletter import DeadLetters, settle_failure
from entrasync_shared.messages import (
    ConnectionTest,
    CredentialProfileCreate,
    ProfileDelete,
    ProfileRef,
    ProfileUpdate,
    Reply,
    Request,
    SyncRecordedEvent,
    TenantCreate,
    TenantDelete,
    TenantRef,
    TenantTest,
    TenantUpdate,
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
from entrasync_config.adapters.mongo_outages import MONGO_OUTAGES
from entrasync_config.domain import ConfigError, Deps, Unavailable
from entrasync_config.micro import MicroService

log = logging.getLogger("entrasync.config")

RequestT = TypeVar("RequestT", bound=BaseModel)
UseCase = Callable[[Any, Deps], Awaitable[Any]]
QUEUE = "entrasync-config"
RETRY_DELAY = 2.0
MAX_REQUEST_BYTES = 64 * 1024
TEST_WORKERS = 8


class NoArguments(Request):
    """The body of verbs that take nothing: `{}` or empty."""


def first_error(err: ValidationError) -> tuple[str | None, str]:
    """The first problem's field (dotted path, None for the whole body) and message."""
    first = err.errors(include_url=False, include_input=False, include_context=False)[0]
    message = first["msg"].removeprefix("Value error, ")
    return ".".join(str(part) for part in first["loc"]) or None, message


def invalid_reply(err: ValidationError) -> Reply[Any]:
    field, message = first_error(err)
    return failed("validation", message, field=field)


async def answer(
    body: bytes,
    request_type: type[RequestT] | None,
    use_case: Callable[[Any], Awaitable[Any]],
) -> Reply[Any]:
    """Parse, run, and turn every outcome into a reply; an API call never crashes the service."""
    if len(body) > MAX_REQUEST_BYTES:
        size = f"{len(body)} bytes; at most {MAX_REQUEST_BYTES}"
        return failed("validation", f"request too large ({size})")
    try:
        model = request_type or NoArguments
        request = model.model_validate_json(body or b"{}", strict=True)
        return ok(await use_case(request))
    except ValidationError as err:
        return invalid_reply(err)
    except ConfigError as err:
        return failed(err.code, err.message, field=err.field)
    except PyMongoError as err:
        log.warning("database unavailable: %s", type(err).__name__)
        return failed("unavailable", "the config database is unavailable; retry later")
    except Exception:
        log.exception("unexpected error in an API call")
        return failed("internal", "internal error; see the config service log")


API: dict[str, tuple[type[BaseModel] | None, UseCase]] = {
    "profile.create": (CredentialProfileCreate, domain.create_profile),
    "profile.list": (None, lambda _, deps: domain.list_profiles(deps)),
    "profile.get": (ProfileRef, domain.get_profile),
    "profile.update": (ProfileUpdate, domain.update_profile),
    "profile.delete": (ProfileDelete, domain.delete_profile),
    "tenant.create": (TenantCreate, domain.create_tenant),
    "tenant.list": (None, lambda _, deps: domain.list_tenants(deps)),
    "tenant.get": (TenantRef, domain.get_tenant),
    "tenant.update": (TenantUpdate, domain.update_tenant),
    "tenant.delete": (TenantDelete, domain.delete_tenant),
    "tenant.test": (TenantTest, domain.run_tenant_test),
    "connection.test": (ConnectionTest, domain.run_unsaved_test),
    "credential.get": (TenantRef, domain.get_credential),
    "keys.reencrypt": (None, lambda _, deps: domain.reencrypt_secrets(deps)),
    "health": (None, lambda _, deps: domain.check_health(deps)),
}
SLOW = {"tenant.test", "connection.test"}


def register(
    broker: NatsBroker,
    names: Names,
    deps: Callable[[], Deps],
    micro: MicroService,
    *,
    fetch_timeout: float = 1.0,
    max_failed_deliveries: int = 5,
) -> None:
    """Attach every subscriber; `deps()` yields the adapters once the app has started.

    `fetch_timeout` bounds one pull of the `sync.recorded` consumer; a message failing for
    another reason than an outage is parked after `max_failed_deliveries` deliveries."""
    for verb, (request_type, use_case) in API.items():
        subject = names.api("config", verb)
        micro.endpoint(verb, subject, QUEUE)
        subscriber = broker.subscriber(
            subject,
            queue=QUEUE,
            title=f"config.{verb}",
            max_workers=TEST_WORKERS if verb in SLOW else 1,
        )
        subscriber(_api_handler(verb, request_type, use_case, deps, micro))
    _register_sync_recorded(broker, names, deps, fetch_timeout, max_failed_deliveries)


def _api_handler(
    verb: str,
    request_type: type[BaseModel] | None,
    use_case: UseCase,
    deps: Callable[[], Deps],
    micro: MicroService,
) -> Callable[[NatsMessage], Awaitable[Reply[Any]]]:
    async def on_request(msg: NatsMessage) -> Reply[Any]:
        started = time.perf_counter_ns()
        reply = await answer(msg.body, request_type, lambda r: use_case(r, deps()))
        error = reply.error
        if error is not None:
            where = f" ({error.field})" if error.field else ""
            log.info("config.%s refused: %s%s", verb, error.code, where)
        micro.record(verb, started, f"{error.code}: {error.message}" if error else None)
        return reply

    on_request.__name__ = f"on_{verb.replace('.', '_')}"
    return on_request


def _register_sync_recorded(
    broker: NatsBroker,
    names: Names,
    deps: Callable[[], Deps],
    fetch_timeout: float,
    max_failed_deliveries: int,
) -> None:
    dead_letters = DeadLetters(broker, names, "config")

    @broker.subscriber(
        names.sync_recorded_all,
        stream=JStream(names.events_stream, declare=False),
        durable=names.consumer("config", "sync-recorded"),
        deliver_policy=DeliverPolicy.NEW,
        # One message per pull: nats-py (2.16) ends an idle pull of several messages with a
        # bare asyncio.TimeoutError now and then, which FastStream (0.7) does not take for the
        # usual "nothing to fetch" and logs as an ERROR with a traceback. A pull of one ends
        # with nats' own TimeoutError, which FastStream expects. Runs are few: one at a time is
        # plenty.
        pull_sub=PullSub(batch_size=1, timeout=fetch_timeout),
        inbox_prefix=names.pull_inbox,
        # Unlimited: an outage is retried until it is over; other failures are parked by
        # `settle_failure` (the server's own limit would drop a message without a word).
        config=ConsumerConfig(max_deliver=-1, ack_wait=30),
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
            try:
                await dead_letters.park(msg.body, raw.subject, reason, f"config:events:{seq}")
            except Exception as park_error:  # NATS is down: park it on a later delivery
                log.warning("could not park message #%s, will retry: %r", seq, park_error)
                await msg.nack(delay=RETRY_DELAY)
                return
            await msg.ack()
            return
        try:
            tenant = await domain.record_sync(recorded, deps())
        except Exception as err:
            await settle_failure(
                msg,
                err,
                dead_letters,
                limit=max_failed_deliveries,
                delay=RETRY_DELAY,
                msg_id=f"config:events:{raw.metadata.sequence.stream}",
                also=(Unavailable, *MONGO_OUTAGES),
            )
            return
        if tenant is not None:
            log.info("full scan done for tenant %s (run %s)", tenant.id, recorded.run_id)
        await msg.ack()
