"""An in-memory tracer provider for a test: `with recorded_spans() as spans:` installs one as the
process's global provider (so `kit.tracing` is on, as a configured service would be) and puts
the global back afterwards; `spans.get_finished_spans()` lists what ended."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once


def _install(provider: trace.TracerProvider | None) -> None:
    # The API allows one global provider per process; OpenTelemetry's own test utilities reset
    # it the same way (opentelemetry.test.globals_test.reset_trace_globals).
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # noqa: SLF001
    trace._TRACER_PROVIDER = None  # noqa: SLF001
    if provider is not None:
        trace.set_tracer_provider(provider)


@contextlib.contextmanager
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = trace._TRACER_PROVIDER  # noqa: SLF001
    _install(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        _install(previous)
