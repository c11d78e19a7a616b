"""A run retried after its syncer died is recorded from its first attempt's start to its last
attempt's end, with how many times it started."""

from datetime import timedelta

from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.domain.runs import RunStart, run_span
from entrasync_history.usecases.pipeline import Context, record_finished, record_started
from entrasync_shared.subjects import Names
from history_fakes import T0, FakeEventPublisher, FakeHistoryStore, finished, started

LATER = T0 + timedelta(seconds=60)


async def test_a_retried_run_is_recorded_from_its_first_start_with_its_attempts() -> None:
    ctx = Context(FakeHistoryStore(), FakeEventPublisher(), Names(), GuardrailPolicy(0.2, 10), 3)
    await record_started(ctx, started("r1", at=T0))
    await record_started(ctx, started("r1", at=LATER).model_copy(update={"attempt": 2}))
    done = finished("r1", {"user": 0}, started_at=LATER).model_copy(update={"attempt": 2})
    recorded = await record_finished(ctx, done, 1, LATER)
    assert recorded is not None
    assert (recorded.started_at, recorded.finished_at) == (T0, done.finished_at)
    assert recorded.attempts == 2


def test_the_span_keeps_the_earliest_start_and_the_highest_attempt() -> None:
    done = finished("r1", {"user": 0}, started_at=LATER).model_copy(update={"attempt": 3})
    assert run_span(done, None) == RunStart(LATER, 3)
    assert run_span(done, RunStart(T0, 2)) == RunStart(T0, 3)
    assert run_span(done, RunStart(LATER + timedelta(seconds=1), 4)) == RunStart(LATER, 4)
