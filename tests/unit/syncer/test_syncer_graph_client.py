import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from entrasync_shared.messages import CloudEndpoints
from entrasync_syncer.adapters.graph import HttpxGraphConnector
from entrasync_syncer.domain import RetryPolicy
from entrasync_syncer.ports import (
    DeltaLinkExpired,
    DeltaPage,
    GraphError,
    RequestStats,
    TokenError,
)

CLOUD = CloudEndpoints(name="lab", authority_host="https://login.test", graph_url="https://g.test")
URL = "https://g.test/v1.0/users/delta?$select=id"
PAGE = {"value": [{"id": "u1"}], "@odata.deltaLink": "https://g.test/next"}


def graph_error(status: int, code: str, message: str = "", **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "innerError": {}}}
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """Answers requests from a list, recording the bearer token each one carried."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.bearers: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bearers.append(request.headers["Authorization"])
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Tokens:
    def __init__(self, refuse_fresh: bool = False) -> None:
        self.count = 0
        self.refuse_fresh = refuse_fresh

    async def __call__(self, fresh: bool) -> str:
        if fresh and self.refuse_fresh:
            raise TokenError("invalid_client: AADSTS7000222: expired secret")
        if fresh or not self.count:
            self.count += 1
        return f"t{self.count}"


async def read(
    script: Script, tokens: Callable[[bool], object] | None = None, attempts: int = 4
) -> tuple[DeltaPage, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    policy = RetryPolicy(max_attempts=attempts, backoff_base=1, backoff_cap=4, max_retry_after=60)
    connector = HttpxGraphConnector(policy, 5, sleep=sleep, transport=httpx.MockTransport(script))
    async with connector.open(CLOUD) as graph:
        page = await graph.page(URL, tokens or Tokens())  # type: ignore[arg-type]
    return page, waits


async def test_a_page_carries_entries_and_its_link() -> None:
    page, waits = await read(Script(httpx.Response(200, json=PAGE)))

    assert page == DeltaPage([{"id": "u1"}], None, "https://g.test/next")
    assert waits == []


async def test_throttling_waits_as_long_as_retry_after_says() -> None:
    script = Script(
        graph_error(429, "TooManyRequests", **{"Retry-After": "2.128"}),
        graph_error(503, "ServiceUnavailable", **{"Retry-After": "45"}),
        httpx.Response(200, json=PAGE),
    )

    page, waits = await read(script)

    assert page.entries == [{"id": "u1"}]
    assert waits == [2.128, 45]  # past 30 s too: an early retry would only be throttled again


async def test_a_retry_after_beyond_the_maximum_fails_at_once_saying_why() -> None:
    script = Script(graph_error(429, "TooManyRequests", **{"Retry-After": "120"}))

    with pytest.raises(GraphError, match=r"asked to wait 120 s, longer than the 60 s") as failed:
        await read(script)

    assert "MAX_RETRY_AFTER" in str(failed.value)


async def test_without_retry_after_it_backs_off_then_gives_up() -> None:
    script = Script(*[graph_error(504, "GatewayTimeout")] * 3)

    with pytest.raises(GraphError, match="504 GatewayTimeout.*gave up after 3 attempts"):
        await read(script, attempts=3)


async def test_network_errors_are_retried() -> None:
    script = Script(httpx.ConnectError("refused"), httpx.Response(200, json=PAGE))

    page, waits = await read(script)

    assert page.delta_link and len(waits) == 1 and 0.5 <= waits[0] <= 1


async def test_a_401_fetches_a_fresh_token_once() -> None:
    script = Script(
        graph_error(401, "InvalidAuthenticationToken", "expired"),
        httpx.Response(200, json=PAGE),
    )

    page, waits = await read(script)

    assert script.bearers == ["Bearer t1", "Bearer t2"]
    assert page.entries and waits == []


async def test_a_second_401_fails_the_request() -> None:
    script = Script(*[graph_error(401, "InvalidAuthenticationToken", "nope")] * 2)

    with pytest.raises(GraphError, match="401 InvalidAuthenticationToken: nope"):
        await read(script)


async def test_a_refused_token_refresh_fails_the_request() -> None:
    script = Script(graph_error(401, "InvalidAuthenticationToken", "expired"))

    with pytest.raises(GraphError, match="AADSTS7000222"):
        await read(script, Tokens(refuse_fresh=True))


@pytest.mark.parametrize(
    "response",
    [
        graph_error(400, "syncStateNotFound", "expired"),
        graph_error(400, "badRequest", "Badly formed token."),
        httpx.Response(410, headers={"Location": "https://g.test/v1.0/users/delta"}),
    ],
)
async def test_unusable_links_ask_for_a_full_round(response: httpx.Response) -> None:
    with pytest.raises(DeltaLinkExpired):
        await read(Script(response))


async def test_a_permission_error_fails_without_retry() -> None:
    script = Script(graph_error(403, "Authorization_RequestDenied", "Insufficient privileges"))

    with pytest.raises(GraphError, match="403 Authorization_RequestDenied") as failure:
        await read(script)

    assert not isinstance(failure.value, DeltaLinkExpired)


async def test_a_page_without_value_is_an_error() -> None:
    with pytest.raises(GraphError, match="without a value"):
        await read(Script(httpx.Response(200, json={"@odata.deltaLink": "x"})))


async def test_a_storm_of_429s_with_fractional_retry_after_is_waited_out_and_counted() -> None:
    storm = [graph_error(429, "TooManyRequests", **{"Retry-After": "0.128"})] * 5
    stats = RequestStats()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    connector = HttpxGraphConnector(
        RetryPolicy(max_attempts=10),
        5,
        sleep=sleep,
        transport=httpx.MockTransport(Script(*storm, httpx.Response(200, json=PAGE))),
    )
    async with connector.open(CLOUD) as graph:
        page = await graph.page(URL, Tokens(), stats)  # type: ignore[arg-type]

    assert page.entries == [{"id": "u1"}]
    assert waits == [0.128] * 5
    assert (stats.requests, stats.throttled) == (6, 5)
    assert stats.throttle_wait == pytest.approx(0.64)


async def test_a_request_gives_up_when_its_waiting_budget_is_spent() -> None:
    storm = [graph_error(429, "TooManyRequests", **{"Retry-After": "4"})] * 4
    policy = RetryPolicy(max_attempts=10, budget_seconds=10)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    connector = HttpxGraphConnector(
        policy, 5, sleep=sleep, transport=httpx.MockTransport(Script(*storm))
    )
    async with connector.open(CLOUD) as graph:
        with pytest.raises(GraphError, match="429 TooManyRequests.*gave up after 3 attempts"):
            await graph.page(URL, Tokens())  # type: ignore[arg-type]

    assert waits == [4, 4]


async def test_a_retry_after_pauses_every_request_of_the_run() -> None:
    first = asyncio.Event()

    def answer(request: httpx.Request) -> httpx.Response:
        if "first" in str(request.url) and not first.is_set():
            first.set()
            return graph_error(429, "TooManyRequests", **{"Retry-After": "0.3"})
        return httpx.Response(200, json=PAGE)

    connector = HttpxGraphConnector(RetryPolicy(), 5, transport=httpx.MockTransport(answer))
    async with connector.open(CLOUD) as graph:
        throttled = asyncio.create_task(graph.page(URL + "&first", Tokens()))  # type: ignore[arg-type]
        await first.wait()
        started = time.monotonic()
        await graph.page(URL, Tokens())  # type: ignore[arg-type]
        waited = time.monotonic() - started
        await throttled

    assert waited >= 0.25


async def test_runs_share_one_pooled_client_per_trust_root() -> None:
    connector = HttpxGraphConnector(RetryPolicy(), 5, transport=httpx.MockTransport(Script()))
    other = CLOUD.model_copy(update={"ca_pem": None, "name": "other"})

    async with connector.open(CLOUD) as one, connector.open(other) as two:
        assert one._client is two._client  # type: ignore[attr-defined]
    await connector.aclose()


async def test_after_a_pause_the_throttled_request_goes_first_and_the_others_follow() -> None:
    order: list[str] = []
    throttled = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        name = request.url.params["name"]
        order.append(name)
        if name == "first" and not throttled.is_set():
            throttled.set()
            return graph_error(429, "TooManyRequests", **{"Retry-After": "0.3"})
        if name == "first":
            await asyncio.sleep(0.2)  # the others must not go while it is on its way
        return httpx.Response(200, json=PAGE)

    connector = HttpxGraphConnector(RetryPolicy(), 5, transport=httpx.MockTransport(answer))
    stats = {name: RequestStats() for name in ("second", "third")}
    async with connector.open(CLOUD) as graph:
        first = asyncio.create_task(graph.page(URL + "&name=first", Tokens()))  # type: ignore[arg-type]
        await throttled.wait()
        others = [
            asyncio.create_task(graph.page(f"{URL}&name={name}", Tokens(), stats[name]))  # type: ignore[arg-type]
            for name in ("second", "third")
        ]
        await asyncio.gather(first, *others)

    assert order[:2] == ["first", "first"]
    assert sorted(order[2:]) == ["second", "third"]
    assert all(s.throttle_wait >= 0.45 and s.throttled == 0 for s in stats.values())
