"""The scheduler's entry points follow the catalog: its API answers exactly `SchedulerApi`, its
ordered consumers read flows the catalog lists it as a reader of."""

from __future__ import annotations

from entrasync_scheduler.entrypoints.api import api
from entrasync_scheduler.entrypoints.events import CONSUMERS
from entrasync_shared import catalog
from entrasync_shared.subjects import Names
from faststream.nats import NatsBroker


def test_the_scheduler_answers_exactly_its_catalog_endpoints() -> None:
    api.check()
    assert set(api.handlers) == {e.verb for e in catalog.endpoints("scheduler")}


def test_the_scheduler_subscribes_to_its_endpoints_and_catalog_flows() -> None:
    broker, names = NatsBroker(), Names("t1")

    for consumer in CONSUMERS:
        consumer.attach(broker, names, lambda: None)
    api.attach(broker, names, lambda: None)

    subjects = {s.subject.broker_address for s in broker.subscribers}
    assert {e.subject(names) for e in catalog.endpoints("scheduler")} <= subjects
    assert names.sync_recorded_all in subjects
    assert "t1.entrasync.config.tenant.>" in subjects  # the three tenant events
