"""The W3C trace context crosses NATS where entrasync publishes with nats-py itself: an API
request (`natsutil.call`) and its handling by a FastStream subscriber with the kit's tracing
middlewares are one trace, and history's pipelined events (`OrderedPublisher`) carry it. With
tracing off, nothing is added.

Real: nats-server with JetStream (session `infra`), FastStream brokers, the test's streams. The
tracer provider is an in-memory one (`support.tracing`), installed as a service's would be.
"""

from __future__ import annotations

from entrasync_devtools.infra import LocalInfra
from entrasync_shared.kit import tracing
from entrasync_shared.logs import current_context
from entrasync_shared.messages import Reply, TenantRef
from entrasync_shared.natsutil import OrderedPublisher, Outgoing, call, subscriptions_in_place
from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from opentelemetry.trace import SpanKind
from support.tracing import recorded_spans


async def _stored_headers(nc: NatsClient, names: Names) -> dict[str, str]:
    js = nc.jetstream()
    info = await js.stream_info(names.events_stream)
    return dict((await js.get_msg(names.events_stream, info.state.last_seq)).headers or {})


async def test_an_api_request_and_its_handling_are_one_trace(
    nc: NatsClient, infra: LocalInfra, names: Names
) -> None:
    subject = names.api("scheduler", "sync_now")
    logged: list[dict[str, str]] = []
    with recorded_spans() as spans:
        broker = NatsBroker(infra.nats_url, middlewares=tracing.nats_middlewares())

        @broker.subscriber(subject)
        async def on_request(request: TenantRef) -> Reply[TenantRef]:
            logged.append(current_context())
            return Reply(ok=True, result=request)

        async with broker:
            await broker.start()
            await subscriptions_in_place(broker.connection)
            with tracing.span("sync now pressed") as pressed:
                await call(nc, subject, TenantRef(tenant_id="t1"), TenantRef)
        finished = spans.get_finished_spans()

    trace_id = pressed.get_span_context().trace_id
    by_id = {s.context.span_id: s for s in finished}
    handling = next(s for s in finished if s.kind is SpanKind.CONSUMER)
    assert handling.context.trace_id == trace_id
    assert handling.parent is not None
    client = by_id[handling.parent.span_id]
    assert (client.kind, client.name) == (SpanKind.CLIENT, f"{subject} request")
    assert client.parent is not None and client.parent.span_id == pressed.get_span_context().span_id
    assert logged == [{"trace_id": format(trace_id, "032x")}]


async def test_pipelined_events_carry_the_trace_of_their_publish(
    nc: NatsClient, names: Names
) -> None:
    event = Outgoing(names.sync_recorded("t1"), TenantRef(tenant_id="t1"), "e-1")
    with recorded_spans() as spans:
        with tracing.span("apply batch") as applying:
            await OrderedPublisher(nc).publish([event], stream=names.events_stream)
        publish = next(s for s in spans.get_finished_spans() if s.kind is SpanKind.PRODUCER)

    trace_id = format(applying.get_span_context().trace_id, "032x")
    span_id = format(publish.context.span_id, "016x")
    traceparent = (await _stored_headers(nc, names))["traceparent"]
    assert traceparent.startswith(f"00-{trace_id}-{span_id}-")
    assert publish.parent is not None
    assert publish.parent.span_id == applying.get_span_context().span_id


async def test_without_tracing_no_header_and_no_middleware_is_added(
    nc: NatsClient, names: Names
) -> None:
    event = Outgoing(names.sync_recorded("t1"), TenantRef(tenant_id="t1"), "e-1")
    await OrderedPublisher(nc).publish([event], stream=names.events_stream)
    assert "traceparent" not in await _stored_headers(nc, names)
    assert tracing.nats_middlewares() == ()
    assert tracing.inject({}) == {}
