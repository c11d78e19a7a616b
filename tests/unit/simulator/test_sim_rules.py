"""Throttling arithmetic, fault rules and delta tokens."""

from __future__ import annotations

from typing import Any

import pytest
from entrasync_sim.faults import FaultBook, FaultSpecError, endpoint_of
from entrasync_sim.throttle import Throttle, ThrottleSettings, graph_budget, request_cost
from entrasync_sim.tokens import RoundState, TokenError, decode_token, encode_token


@pytest.mark.parametrize(("users", "budget"), [(0, 3500), (49, 3500), (50, 5000), (500, 5000)])
def test_budgets_follow_graphs_tenant_sizes(users: int, budget: int) -> None:
    assert graph_budget(users) == budget
    assert graph_budget(501) == 8000


@pytest.mark.parametrize(
    ("kind", "query", "cost"),
    [
        ("users-list", {}, 2),
        ("users-list", {"$select": "id"}, 1),
        ("users-list", {"$select": "id", "$top": "1"}, 1),
        ("users-list", {"$expand": "manager"}, 3),
        ("group-members", {}, 3),
        ("group-members", {"$select": "id"}, 2),
        ("group-members", {"$select": "id", "$top": "999"}, 2),
        ("group-members", {"$select": "id", "$top": "5"}, 1),
        ("group-transitive-members", {}, 5),
        ("get", {}, 1),
        ("delta", {}, 1),
        ("delta", {"$select": "id"}, 1),
        ("delta", {"$expand": "members"}, 2),
    ],
)
def test_request_costs_follow_graphs_table(kind: str, query: dict[str, str], cost: int) -> None:
    assert request_cost(kind, query) == cost


def test_a_bucket_refills_evenly_and_throttles_only_what_exceeds_it() -> None:
    throttle = Throttle(ThrottleSettings(budget=3, window=10))  # 0.3 units a second

    burst = [throttle.charge(100.0, "t", "a", 10, 1) for _ in range(3)]
    over = throttle.charge(100.0, "t", "a", 10, 1)
    refilled = throttle.charge(100.0 + over.retry_after, "t", "a", 10, 1)  # type: ignore[operator]

    assert [v.retry_after for v in burst] == [None, None, None]
    assert burst[2].headers["x-ms-throttle-limit-percentage"] == "1.00"
    # Throttled, it still took its unit: a retry passes once two units have come back.
    assert over.retry_after == pytest.approx(2 / 0.3)
    assert over.scope == "Tenant_Application/ReadWrite/a/t"
    assert refilled.retry_after is None


def test_retrying_before_retry_after_runs_up_a_longer_wait() -> None:
    throttle = Throttle(ThrottleSettings(budget=10, window=10, max_retry_after=60))
    for _ in range(10):
        throttle.charge(0.0, "t", "a", 10, 1)

    waits = [throttle.charge(0.0, "t", "a", 10, 3).retry_after for _ in range(30)]

    assert waits[0] == pytest.approx(6.0)
    assert all(b > a for a, b in zip(waits[:18], waits[1:19], strict=True))
    assert max(waits) == pytest.approx(60.0)  # "Retry-After" can exceed 30 s, up to the bound


def test_the_app_budget_spans_tenants() -> None:
    throttle = Throttle(ThrottleSettings(budget=100, app_budget=2))

    verdicts = [throttle.charge(1.0, tenant, "a", 10, 1) for tenant in ("x", "y", "z")]

    assert verdicts[2].retry_after is not None
    assert verdicts[2].scope.startswith("Application/")


def test_switched_off_it_only_reports_costs() -> None:
    throttle = Throttle(ThrottleSettings(enabled=False, budget=1))

    verdicts = [throttle.charge(1.0, "t", "a", 10, 2) for _ in range(5)]

    assert {v.retry_after for v in verdicts} == {None}
    assert verdicts[-1].headers == {"x-ms-resource-unit": "2"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1.0/users/delta", ("users/delta", None)),
        ("/v1.0/groups/microsoft.graph.delta()", ("groups/delta", None)),
        ("/v1.0/users/microsoft.graph.delta", ("users/delta", None)),
        ("/v1.0/users", ("users", None)),
        ("/v1.0/users/abc", ("users", None)),
        ("/v1.0/directoryRoles/delta()", ("directoryRoles/delta", None)),
        ("/v1.0/directory/administrativeUnits/delta()", ("administrativeUnits/delta", None)),
        ("/v1.0/roleManagement/directory/roleEligibilitySchedules", ("roleManagement", None)),
        ("/contoso.example/oauth2/v2.0/token", ("token", "contoso.example")),
        ("/t/v2.0/.well-known/openid-configuration", ("openid-configuration", "t")),
        ("/_control/faults", (None, None)),
    ],
)
def test_endpoint_names(path: str, expected: tuple[str | None, str | None]) -> None:
    assert endpoint_of(path) == expected


def test_a_rule_counts_after_then_fires_count_times() -> None:
    book = FaultBook()
    book.add({"endpoint": "*/delta", "status": 503, "after": 1, "count": 2})

    fired = [book.firing("users/delta", None) is not None for _ in range(5)]

    assert fired == [False, True, True, False, False]
    assert book.firing("organization", None) is None
    assert (book.rules[0].seen, book.rules[0].hits) == (5, 2)


@pytest.mark.parametrize(
    "spec",
    [{"status": 302}, {"count": 0, "status": 500}, {"latency": -1}, {"surprise": 1}],
)
def test_bad_rules_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises((FaultSpecError, TypeError)):
        FaultBook().add({"endpoint": "*", **spec})


def test_tokens_round_trip_and_refuse_other_tenants_and_garbage() -> None:
    state = RoundState("groups", "tenant", ("members",), 3, 9, "abc", 2, 77, 1, 2, 0)

    token = encode_token(state)

    assert decode_token(token, "tenant") == state
    with pytest.raises(TokenError):
        decode_token(token, "another-tenant")
    with pytest.raises(TokenError):
        decode_token("not-a-token!", "tenant")
