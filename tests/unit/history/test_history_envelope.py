"""Every public event names its Entra directory in the `entratenantid` CloudEvents extension."""

import json
from datetime import timedelta

import pytest
from entrasync_history.domain.events import OutgoingEvent, recorded_event
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.usecases.pipeline import (
    Context,
    apply_batch,
    record_finished,
    record_started,
)
from entrasync_shared.subjects import Names
from history_fakes import T0, FakeEventPublisher, FakeHistoryStore, batch, finished, obj, started

DIRECTORY = "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab"
H = timedelta(hours=1)


@pytest.fixture
def events() -> FakeEventPublisher:
    return FakeEventPublisher()


@pytest.fixture
def ctx(events: FakeEventPublisher) -> Context:
    return Context(FakeHistoryStore(), events, Names(), GuardrailPolicy(1.0, 0), 3)


def wire(event: OutgoingEvent) -> dict[str, object]:
    """The event as a consumer reads it off the stream."""
    return json.loads(event.envelope.model_dump_json())


async def full_run(ctx: Context, run_id: str, at, users: list[str], directory: str | None):
    await record_started(ctx, started(run_id, at=at))
    page = batch(run_id, "user", 0, [obj(u, name=u.upper()) for u in users])
    update = {"entra_tenant_id": directory, "at": at + timedelta(seconds=1)}
    await apply_batch(ctx, page.model_copy(update=update), at)
    done = finished(run_id, {"user": 1}, started_at=at)
    await record_finished(ctx, done.model_copy(update={"entra_tenant_id": directory}), 1, at)


async def test_every_event_of_a_run_carries_the_directory_guid(
    ctx: Context, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, ["u1", "u2"], DIRECTORY)
    await full_run(ctx, "r2", T0 + H, ["u1"], DIRECTORY)  # u2 deleted by the finish's sweep

    published = [wire(event) for event in events.events]
    kinds = sorted(str(event["type"]).rsplit(".", 1)[1] for event in published)
    assert kinds == ["created", "created", "deleted", "recorded", "recorded"]
    assert [event["entratenantid"] for event in published] == [DIRECTORY] * 5
    recorded = [event for event in published if str(event["type"]).endswith(".recorded")]
    assert [event["data"]["entra_tenant_id"] for event in recorded] == [DIRECTORY] * 2


async def test_a_recorded_run_published_again_keeps_its_directory_guid(
    ctx: Context, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, ["u1"], DIRECTORY)
    done = finished("r1", {"user": 1}).model_copy(update={"entra_tenant_id": None})
    again = await record_finished(ctx, done, 2, T0)

    assert again is not None and again.entra_tenant_id == DIRECTORY
    assert wire(recorded_event(ctx.names, again))["entratenantid"] == DIRECTORY


async def test_messages_of_an_older_syncer_give_events_without_the_attribute(
    ctx: Context, events: FakeEventPublisher
) -> None:
    await full_run(ctx, "r1", T0, ["u1"], None)

    published = [wire(event) for event in events.events]
    assert len(published) == 2
    # Left out rather than null: a consumer need only test whether the attribute is there.
    assert all("entratenantid" not in event for event in published)
