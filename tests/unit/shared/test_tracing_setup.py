"""Tracing is configured by the standard OTEL_* variables and is off unless they ask for it."""

from __future__ import annotations

import json
from pathlib import Path

from entrasync_shared.kit import tracing
from entrasync_shared.kit.tracing import FileSpanExporter, span_processors
from entrasync_shared.logs import current_context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from support.tracing import recorded_spans


def exporters(environ: dict[str, str]) -> list[type]:
    return [type(p.span_exporter) for p in span_processors(environ)]  # type: ignore[attr-defined]


def test_nothing_is_exported_by_default() -> None:
    assert span_processors({}) == []
    assert tracing.configure_tracing("syncer", {}) is False
    assert not tracing.tracing_on()
    assert tracing.nats_middlewares() == ()


def test_an_otlp_endpoint_turns_the_otlp_exporter_on() -> None:
    assert exporters({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}) == [OTLPSpanExporter]
    traces_only = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}
    assert exporters(traces_only) == [OTLPSpanExporter]


def test_the_exporter_variable_decides_and_the_sdk_switch_wins() -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert exporters({**endpoint, "OTEL_TRACES_EXPORTER": "none"}) == []
    assert exporters({"OTEL_TRACES_EXPORTER": "console,otlp"}) == [
        ConsoleSpanExporter,
        OTLPSpanExporter,
    ]
    assert exporters({"OTEL_TRACES_EXPORTER": "zipkin"}) == []
    assert exporters({**endpoint, "OTEL_SDK_DISABLED": "true"}) == []


def test_the_traces_file_gets_each_span_as_a_json_line(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    processors = span_processors({tracing.TRACES_FILE: str(path)})
    assert [type(p) for p in processors] == [SimpleSpanProcessor]
    provider = TracerProvider()
    provider.add_span_processor(processors[0])
    with provider.get_tracer("test").start_as_current_span("one"):
        pass
    provider.get_tracer("test").start_span("two").end()
    assert [json.loads(line)["name"] for line in path.read_text().splitlines()] == ["one", "two"]
    assert isinstance(processors[0].span_exporter, FileSpanExporter)


def test_log_records_carry_the_trace_id_of_the_current_span() -> None:
    with recorded_spans(), tracing.span("sync run", {"run": "r1"}) as span:
        assert current_context() == {"trace_id": format(span.get_span_context().trace_id, "032x")}
        assert tracing.current_trace_id() == current_context()["trace_id"]
    with tracing.span("off") as span:
        assert not span.is_recording()
        assert current_context() == {}
