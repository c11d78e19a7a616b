"""Replication lag: a change reaches delta rounds only after the tenant's lag, exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from entrasync_sim.control_client import ControlError, SimulatorControl
from sim_helpers import latest_link, run_round


@pytest.fixture(autouse=True)
def no_lag_left(control: SimulatorControl, tenant: dict[str, str]) -> Iterator[None]:
    yield
    control.set_replication_lag(tenant["tenant_id"], 0)


def test_a_change_made_within_the_lag_comes_in_the_round_after_it(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    assert control.replication_lag(tid) == {"seconds": 0.0}
    control.set_replication_lag(tid, 30)
    link = latest_link(graph, "users", "displayName")
    user = control.truth(tid, "user")[0]["id"]
    control.update(tid, "user", user, {"displayName": "Lagging"})

    hidden = run_round(graph, link)
    control.advance_clock(31)
    try:
        shown = run_round(graph, hidden.delta_link)
        after = run_round(graph, shown.delta_link)
    finally:
        control.advance_clock(-31)

    assert hidden.entries == []
    assert shown.entries == [{"id": user, "displayName": "Lagging"}]
    assert after.entries == []


def test_without_a_lag_a_change_comes_in_the_next_round(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    link = latest_link(graph, "users", "displayName")
    user = control.truth(tid, "user")[1]["id"]
    control.update(tid, "user", user, {"displayName": "At once"})

    assert run_round(graph, link).entries == [{"id": user, "displayName": "At once"}]


@pytest.mark.parametrize("body", [-1, "5", True, 86_401])
def test_a_nonsense_lag_is_refused(
    control: SimulatorControl, tenant: dict[str, str], body: object
) -> None:
    with pytest.raises(ControlError) as refused:
        control.set_replication_lag(tenant["tenant_id"], body)  # type: ignore[arg-type]

    assert refused.value.status == 400
