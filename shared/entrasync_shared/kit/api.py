"""Request-reply, both ends, from the catalog: one `answer()` for every service, an `ApiRouter`
that wires a service's handlers to exactly its catalog endpoints, and the typed `ApiClient`.

A handler is `async def handler(request, deps) -> result`, typed by its endpoint. It refuses a
request by raising `ApiFailure(code, message, field)` (or a subclass with a fixed code); an
outage (a service's `outages`, or any `deadletter.is_transient` error) answers `unavailable`;
anything else is a bug, answered `internal` and logged with its traceback. A refused request
changes nothing, and an API call never crashes the service.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from faststream.nats import NatsBroker, NatsMessage
from nats.aio.client import Client as NatsClient
from pydantic import BaseModel, ValidationError

from entrasync_shared import catalog
from entrasync_shared.catalog import Endpoint, ErrorCode, NoArguments, Service, endpoints
from entrasync_shared.deadletter import is_transient
from entrasync_shared.kit import metrics
from entrasync_shared.kit.micro import MicroService, register_discovery
from entrasync_shared.messages import ApiError, Reply
from entrasync_shared.natsutil import ApiCallError, call
from entrasync_shared.subjects import Names

log = logging.getLogger("entrasync.api")

ReqT = TypeVar("ReqT", bound=BaseModel)
ResT = TypeVar("ResT")
DepsT = TypeVar("DepsT")

MAX_REQUEST_BYTES = 64 * 1024
SLOW_WORKERS = 8
"""Concurrent requests of a `slow` endpoint per process (they wait on Graph)."""

Handler = Callable[[ReqT, DepsT], Awaitable[ResT]]


class ApiFailure(Exception):
    """A refusal: the caller gets `code` (one of `catalog.ERROR_CODES`), `message`, `field`.

    Subclasses fix `code` (`class NotFound(ApiFailure): code = "not_found"`); a one-off
    refusal names it: `ApiFailure("tenant is disabled", "tenant_id", code="conflict")`.
    """

    code: ErrorCode = "internal"

    def __init__(
        self, message: str, field: str | None = None, *, code: ErrorCode | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


def reply_ok(result: Any) -> Reply[Any]:
    return Reply(ok=True, result=result)


def reply_failed(code: ErrorCode, message: str, field: str | None = None) -> Reply[Any]:
    return Reply(ok=False, error=ApiError(code=code, message=message, field=field))


def first_error(err: ValidationError) -> tuple[str | None, str]:
    """The first problem's field (dotted path, None for the whole body) and message."""
    first = err.errors(include_url=False, include_input=False, include_context=False)[0]
    message = first["msg"].removeprefix("Value error, ")
    return ".".join(str(part) for part in first["loc"]) or None, message


async def answer(
    body: bytes,
    endpoint: Endpoint[ReqT, ResT],
    handle: Callable[[ReqT], Awaitable[ResT]],
    *,
    outages: tuple[type[BaseException], ...] = (),
) -> Reply[Any]:
    """Parse `body` (strict JSON: `"yes"` is not a boolean) into the endpoint's request, run
    `handle`, and turn every outcome into a reply."""
    if len(body) > MAX_REQUEST_BYTES:
        size = f"{len(body)} bytes; at most {MAX_REQUEST_BYTES}"
        return reply_failed("validation", f"request too large ({size})")
    try:
        request = endpoint.request.model_validate_json(body or b"{}", strict=True)
    except ValidationError as err:
        field_name, message = first_error(err)
        return reply_failed("validation", message, field_name)
    try:
        return reply_ok(await handle(request))
    except ApiFailure as err:
        return reply_failed(err.code, err.message, err.field)
    except Exception as err:
        if is_transient(err, outages):
            log.warning("%s: unavailable: %r", endpoint.name, err)
            message = f"the {endpoint.service} service cannot reach its database or a peer; retry"
            return reply_failed("unavailable", message)
        log.exception("unexpected error in %s", endpoint.name)
        return reply_failed("internal", f"internal error; see the {endpoint.service} log")


@dataclass
class ApiRouter(Generic[DepsT]):
    """A service's request-reply handlers, declared at module level, one per catalog endpoint:

        api = ApiRouter[Deps]("config", outages=(Unavailable,))

        @api.handles(ConfigApi.tenant_get)
        async def get_tenant(request: TenantRef, deps: Deps) -> Tenant: ...

    `attach(broker, names, deps)` subscribes them (queue group `entrasync-<service>`) at start,
    and refuses to when the handlers and the catalog disagree. Every endpoint also shows in the
    NATS micro protocol (`$SRV.INFO`), with request and error counts, and in the Prometheus
    metrics (`kit.metrics`: requests by verb and code, latency; the broker's publishes per flow).
    """

    service: Service
    description: str = ""
    outages: tuple[type[BaseException], ...] = ()
    handlers: dict[str, Handler[Any, Any, Any]] = field(default_factory=dict)

    def handles(
        self, endpoint: Endpoint[ReqT, ResT]
    ) -> Callable[[Handler[ReqT, DepsT, ResT]], Handler[ReqT, DepsT, ResT]]:
        if endpoint.service != self.service:
            raise ValueError(f"{self.service} cannot answer {endpoint.name}")
        if endpoint.verb in self.handlers:
            raise ValueError(f"{endpoint.name} has two handlers")

        def register(handler: Handler[ReqT, DepsT, ResT]) -> Handler[ReqT, DepsT, ResT]:
            self.handlers[endpoint.verb] = handler
            return handler

        return register

    def check(self) -> None:
        """Raise `ValueError` unless every catalog endpoint of the service has a handler."""
        declared = {e.verb for e in endpoints(self.service)}
        missing, extra = declared - set(self.handlers), set(self.handlers) - declared
        if missing or extra:
            raise ValueError(
                f"{self.service}'s handlers disagree with the catalog: "
                f"missing {sorted(missing)}, undeclared {sorted(extra)}"
            )

    def attach(
        self,
        broker: NatsBroker,
        names: Names,
        deps: Callable[[], DepsT],
        *,
        version: str = "0.1.0",
        metadata: dict[str, str] | None = None,
    ) -> MicroService:
        """Subscribe every handler; `deps()` yields the adapters once the app has started."""
        self.check()
        micro = MicroService(f"entrasync-{self.service}", self.description, version, metadata or {})
        queue = f"entrasync-{self.service}"
        for endpoint in endpoints(self.service):
            subject = endpoint.subject(names)
            micro.endpoint(endpoint.verb, subject, queue)
            subscriber = broker.subscriber(
                subject,
                queue=queue,
                title=f"{self.service}.{endpoint.verb}",
                max_workers=SLOW_WORKERS if endpoint.slow else 1,
            )
            subscriber(self._on_request(endpoint, deps, micro))
        register_discovery(broker, micro)
        broker.add_middleware(metrics.count_publishes(self.service, names))
        return micro

    def _on_request(
        self, endpoint: Endpoint[Any, Any], deps: Callable[[], DepsT], micro: MicroService
    ) -> Callable[[NatsMessage], Awaitable[Reply[Any]]]:
        handler = self.handlers[endpoint.verb]

        async def on_request(msg: NatsMessage) -> Reply[Any]:
            started = time.perf_counter_ns()
            reply = await answer(
                msg.body, endpoint, lambda request: handler(request, deps()), outages=self.outages
            )
            error = reply.error
            if error is not None:
                where = f" ({error.field})" if error.field else ""
                log.info("%s refused: %s%s", endpoint.name, error.code, where)
            micro.record(
                endpoint.verb, started, f"{error.code}: {error.message}" if error else None
            )
            code = error.code if error is not None else None
            metrics.api_answered(self.service, endpoint.verb, code, started)
            return reply

        on_request.__name__ = f"on_{endpoint.verb.replace('.', '_')}"
        return on_request


class ApiClient:
    """Calls any catalog endpoint over one NATS connection; every failure is an `ApiCallError`
    whose `error.code` is one of `catalog.ERROR_CODES`.

    `timeout` bounds ordinary calls, `slow_timeout` those of `slow` endpoints (Test Connection).
    """

    def __init__(
        self,
        connection: Callable[[], NatsClient],
        names: Names,
        *,
        timeout: float = 10.0,
        slow_timeout: float = 60.0,
    ) -> None:
        self._connection, self._names = connection, names
        self._timeout, self._slow_timeout = timeout, slow_timeout

    @property
    def connected(self) -> bool:
        return bool(self._connection().is_connected)

    async def call(
        self,
        endpoint: Endpoint[ReqT, ResT],
        request: ReqT | None = None,
        *,
        timeout: float | None = None,
    ) -> ResT:
        """Send `request` (none for `NoArguments` endpoints) and return the typed result."""
        if endpoint not in catalog.ENDPOINTS:
            raise ValueError(f"{endpoint.name} is not in the catalog")
        body = request if request is not None else NoArguments()
        wait = timeout or (self._slow_timeout if endpoint.slow else self._timeout)
        subject = endpoint.subject(self._names)
        try:
            result: ResT = await call(
                self._connection(), subject, body, endpoint.reply, timeout=wait
            )
        except ApiCallError as err:
            raise _explained(endpoint, err) from None
        return result


def _explained(endpoint: Endpoint[Any, Any], err: ApiCallError) -> ApiCallError:
    """`err`, said in the caller's words when nobody answered."""
    if err.error.code == "unavailable" and err.error.message.startswith("nobody serves"):
        message = (
            f"the {endpoint.service} service does not answer {endpoint.verb!r}: it is not "
            "running, or runs a version without this API"
        )
        return ApiCallError(ApiError(code="unavailable", message=message))
    if err.error.code == "timeout":
        message = f"the {endpoint.service} service did not answer {endpoint.verb!r} in time"
        return ApiCallError(ApiError(code="timeout", message=message))
    return err
