"""How history's durables are configured on JetStream: the pipeline keeps stream order across
crashes (issue 17.9: one unacked message at a time, a short ack wait kept alive while applying)."""

from __future__ import annotations

import pytest
from entrasync_history.domain.plans import GuardrailPolicy
from entrasync_history.entrypoints.deps import Deps
from entrasync_history.main import attach
from entrasync_history.settings import Settings
from entrasync_history.usecases.pipeline import Context
from entrasync_shared.subjects import PIPELINE_PARTITIONS, Names
from history_fakes import (
    CapturingBroker,
    FakeDeadLetters,
    FakeEventPublisher,
    FakeHistoryQueries,
    FakeHistoryStore,
)
from pydantic import ValidationError

NAMES = Names("p")


def attached(settings: Settings) -> CapturingBroker:
    store = FakeHistoryStore()
    ctx = Context(store, FakeEventPublisher(), NAMES, GuardrailPolicy(), 2)
    deps = Deps(NAMES, ctx, store, FakeHistoryQueries(), FakeDeadLetters(), 2.0, 0.5)
    broker = CapturingBroker()
    attach(broker, deps, settings)  # type: ignore[arg-type]
    return broker


def test_each_partition_delivers_no_later_message_while_one_is_unacked() -> None:
    options = attached(Settings()).options
    partitions = [options[f"history.pipeline-{n}"] for n in range(PIPELINE_PARTITIONS)]

    for n, partition in enumerate(partitions):
        config = partition["config"]
        assert config.max_ack_pending == 1
        assert config.ack_wait == 30.0 and config.max_deliver == -1
        assert partition["subject"] == NAMES.pipeline_partition(n)
    assert not any(name == "history.pipeline" for name in options)


def test_the_pipeline_ack_wait_comes_from_the_settings() -> None:
    settings = Settings(
        ENTRASYNC_HISTORY_PIPELINE_ACK_WAIT_SECONDS=5, ENTRASYNC_HISTORY_KEEPALIVE_SECONDS=1
    )
    options = attached(settings).options

    assert options["history.pipeline-0"]["config"].ack_wait == 5.0
    # The tenant-deleted durable is left as it was: no order to keep across tenants.
    deleted = options["history.tenant-deleted"]["config"]
    assert (deleted.ack_wait, deleted.max_ack_pending) == (300, None)


def test_a_keepalive_not_below_the_ack_wait_is_refused() -> None:
    with pytest.raises(ValidationError, match="KEEPALIVE_SECONDS must be below"):
        Settings(
            ENTRASYNC_HISTORY_PIPELINE_ACK_WAIT_SECONDS=5, ENTRASYNC_HISTORY_KEEPALIVE_SECONDS=5
        )
