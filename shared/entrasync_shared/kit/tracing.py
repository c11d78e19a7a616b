"""OpenTelemetry traces across the NATS hops, configured once for every service.

Off by default: without the environment asking for it, no tracer provider is installed, no
broker middleware is added and no header is written, so tracing costs a check per message.
The standard variables turn it on (`configure_tracing`, called by `kit.service.run_service` and
the console at start):

- `OTEL_TRACES_EXPORTER`: `otlp` (OTLP over HTTP/protobuf, to `OTEL_EXPORTER_OTLP_ENDPOINT` or
  `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), `console` (stdout), `none`; a comma-separated list.
  Unset, it is `otlp` when an OTLP endpoint is set, else nothing is exported;
- `OTEL_SERVICE_NAME` (default `entrasync-<service>`), `OTEL_RESOURCE_ATTRIBUTES`,
  `OTEL_TRACES_SAMPLER`/`_ARG`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*` as the SDK reads them;
  `OTEL_SDK_DISABLED=true` wins over all of them;
- `ENTRASYNC_TRACES_FILE`: also append every span as one JSON line to that file (end-to-end
  tests and debugging without a collector).

The W3C trace context (`traceparent`, `tracestate`) travels in NATS message headers: FastStream's
`NatsTelemetryMiddleware` (`nats_middlewares()`, given to each service's `NatsBroker`) writes it
on publish and continues it on consume; what is published with nats-py directly (API requests,
`natsutil.call`; history's pipelined events, `natsutil.OrderedPublisher`) carries it through
`inject()`. While a span is current, log records carry its `trace_id` (`logs.log_context`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, Final

from faststream._internal.middlewares import BaseMiddleware
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, SpanKind

from entrasync_shared.logs import log_context

__all__ = [
    "TRACES_FILE",
    "FileSpanExporter",
    "configure_tracing",
    "current_trace_id",
    "inject",
    "nats_middlewares",
    "span",
    "span_processors",
    "tracing_on",
]

log = logging.getLogger("entrasync.tracing")

TRACES_FILE: Final = "ENTRASYNC_TRACES_FILE"
"""The variable naming a file every span is appended to, as a JSON line."""

TRACER_NAME: Final = "entrasync"

_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


class FileSpanExporter(SpanExporter):
    """Appends each span as one JSON line (`ReadableSpan.to_json`) to `path`; several
    processes may share the file (one `write` per line, in append mode)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(span.to_json(indent=None) + "\n" for span in spans).encode()
        with self._lock:
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, lines)
            finally:
                os.close(fd)
        return SpanExportResult.SUCCESS


def span_processors(environ: MutableMapping[str, str]) -> list[SpanProcessor]:
    """The span processors `environ` asks for (see the module); none: tracing stays off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    asked = environ.get("OTEL_TRACES_EXPORTER")
    if asked is None:
        asked = "otlp" if any(environ.get(v) for v in _OTLP_ENDPOINTS) else "none"
    processors: list[SpanProcessor] = []
    for name in (n.strip().lower() for n in asked.split(",")):
        if name == "otlp":
            # Imported here: its protobuf and requests modules are loaded only when used.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            processors.append(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name not in ("none", ""):
            log.warning("OTEL_TRACES_EXPORTER: unknown exporter %r ignored", name)
    if environ.get(TRACES_FILE):
        processors.append(SimpleSpanProcessor(FileSpanExporter(environ[TRACES_FILE])))
    return processors


def configure_tracing(service: str, environ: MutableMapping[str, str] | None = None) -> bool:
    """Install the tracer provider of service `service` (e.g. `"syncer"`) when the environment
    asks for an exporter (see the module); True when tracing is on. Call it once, at start."""
    environ = os.environ if environ is None else environ
    processors = span_processors(environ)
    if not processors:
        return False
    # OTEL_SERVICE_NAME (read by Resource.create) names the service when set.
    named = {} if environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: f"entrasync-{service}"}
    provider = TracerProvider(resource=Resource.create(named))
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    log.info("tracing on: %d span exporter(s)", len(processors))
    return True


def tracing_on() -> bool:
    """Whether a tracer provider that records spans is installed (by `configure_tracing`, or
    a test's own)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def current_trace_id() -> str | None:
    """The current span's trace id (32 hex digits), or None without one."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def inject(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with the current trace context added (W3C `traceparent`/`tracestate`, or what
    `OTEL_PROPAGATORS` says), for a message published without FastStream."""
    if tracing_on():
        propagate.inject(headers)
    return headers


@contextlib.contextmanager
def span(
    name: str,
    attributes: Mapping[str, str | int | float | bool] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
) -> Iterator[Span]:
    """A span, current within the block (and the tasks it starts), with `attributes`; log
    records of the block carry its trace id. An exception escaping the block marks it failed.
    Without tracing the span records nothing."""
    if not tracing_on():
        yield trace.INVALID_SPAN
        return
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(name, kind=kind, attributes=attributes) as current:
        with log_context(trace_id=current_trace_id()):
            yield current


class _TraceIdInLogs(BaseMiddleware[Any, Any]):
    """Inside the telemetry middleware: the message's handler logs with its trace id."""

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        with log_context(trace_id=current_trace_id()):
            return await call_next(msg)


def nats_middlewares() -> tuple[Any, ...]:
    """The broker middlewares carrying traces over NATS (`NatsBroker(...,
    middlewares=nats_middlewares())`); none while tracing is off."""
    if not tracing_on():
        return ()
    from faststream.nats.opentelemetry import NatsTelemetryMiddleware

    return (NatsTelemetryMiddleware(), _TraceIdInLogs)
