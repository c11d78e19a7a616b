"""`usecases.receive` over in-memory ports: the order of the checks, what each refusal costs
(nothing published, no token, no replay key left behind) and what is counted."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_receiver.domain.notifications import Refusal, client_state_sha256
from entrasync_receiver.domain.ratelimit import TenantRateLimit
from entrasync_receiver.ports import Unavailable
from entrasync_receiver.usecases.receive import Deps, receive
from entrasync_shared.messages import ChangeNotified, SubscriptionRecord

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ENTRA = "84bd8158-6d4d-4958-8b9f-9d6445542f95"


@dataclass
class Fakes:
    records: dict[str, SubscriptionRecord] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    published: list[ChangeNotified] = field(default_factory=list)
    counted: list[tuple[str, str]] = field(default_factory=list)
    kv_down: bool = False
    stream_down: bool = False

    async def records_of(self, ids: Iterable[str]) -> Mapping[str, SubscriptionRecord | None]:
        if self.kv_down:
            raise Unavailable("kv down")
        return {i: self.records.get(i) for i in ids}

    async def first(self, digest: str) -> bool:
        if digest in self.seen:
            return False
        self.seen.add(digest)
        return True

    async def forget(self, digest: str) -> None:
        self.seen.discard(digest)

    async def publish(self, messages: Iterable[ChangeNotified]) -> None:
        if self.stream_down:
            raise Unavailable("no PubAck")
        self.published += list(messages)

    def refused(self, route: str, reason: Refusal) -> None:
        self.counted.append((route, reason))

    def accepted(
        self, route: str, published: Mapping[str, int], left_out: Mapping[str, int]
    ) -> None:
        self.counted.append((route, "accepted"))

    def validated(self, route: str) -> None:
        self.counted.append((route, "validation"))


class _Subscriptions:
    def __init__(self, fakes: Fakes) -> None:
        self.records = fakes.records_of


def deps(fakes: Fakes, *, burst: float = 10) -> Deps:
    return Deps(
        subscriptions=_Subscriptions(fakes),
        replays=fakes,
        notifier=fakes,
        counters=fakes,
        limit=TenantRateLimit(rate=0.5, burst=burst),
        wall_clock=lambda: NOW,
        monotonic=lambda: 0.0,
    )


def subscribed(fakes: Fakes, tenant: str = "t1", secret: str = "secret") -> dict[str, Any]:
    subscription_id = f"sub-{tenant}"
    fakes.records[subscription_id] = SubscriptionRecord(
        subscription_id=subscription_id,
        tenant_id=tenant,
        entra_tenant_id=ENTRA,
        object_type="user",
        resource="users",
        client_state_sha256=client_state_sha256(secret),
        expires_at=NOW + timedelta(days=1),
        updated_at=NOW,
    )
    return {"subscriptionId": subscription_id, "clientState": secret, "tenantId": ENTRA}


def body(*items: dict[str, Any], nonce: int = 0) -> bytes:
    return json.dumps({"value": list(items), "nonce": nonce}).encode()


async def test_an_accepted_post_publishes_and_answers_202() -> None:
    fakes = Fakes()
    answer = await receive(deps(fakes), "notifications", body(subscribed(fakes)))
    assert (answer.status, answer.published) == (202, 1)
    assert [(m.tenant_id, m.kind, m.count) for m in fakes.published] == [("t1", "changed", 1)]
    assert fakes.counted == [("notifications", "accepted")]


async def test_a_replay_is_refused_after_verification() -> None:
    fakes = Fakes()
    payload = body(subscribed(fakes))
    assert (await receive(deps(fakes), "notifications", payload)).status == 202
    answer = await receive(deps(fakes), "notifications", payload)
    assert (answer.status, answer.reason) == (409, "replayed")
    assert len(fakes.published) == 1


async def test_a_forged_post_leaves_no_replay_key_and_takes_no_token() -> None:
    fakes = Fakes()
    item = subscribed(fakes)
    forged = body({**item, "clientState": "guess"})
    the_deps = deps(fakes, burst=1)
    assert (await receive(the_deps, "notifications", forged)).status == 403
    assert fakes.seen == set() and fakes.published == []
    assert (await receive(the_deps, "notifications", body(item))).status == 202


async def test_a_rate_limited_post_says_when_to_retry_and_is_no_replay_later() -> None:
    fakes = Fakes()
    item = subscribed(fakes)
    the_deps = deps(fakes, burst=1)
    assert (await receive(the_deps, "notifications", body(item))).status == 202
    limited = await receive(the_deps, "notifications", body(item, nonce=1))
    assert (limited.status, limited.retry_after) == (429, 2)
    assert len(fakes.seen) == 1  # the refused body was not remembered: its retry is new
    assert ("notifications", "rate_limited") in fakes.counted


async def test_without_nats_the_post_is_unavailable_and_not_remembered() -> None:
    fakes = Fakes()
    item = subscribed(fakes)
    fakes.kv_down = True
    assert (await receive(deps(fakes), "lifecycle", body(item))).status == 503
    fakes.kv_down, fakes.stream_down = False, True
    assert (await receive(deps(fakes), "lifecycle", body(item))).status == 503
    assert fakes.seen == set()  # forgotten: Graph's retry is accepted
    fakes.stream_down = False
    assert (await receive(deps(fakes), "lifecycle", body(item))).status == 202
    assert fakes.counted == [("lifecycle", "unavailable")] * 2 + [("lifecycle", "accepted")]


async def test_replaying_a_captured_body_drains_no_tokens() -> None:
    fakes = Fakes()
    item = subscribed(fakes)
    the_deps = deps(fakes, burst=2)
    captured = body(item)
    assert (await receive(the_deps, "notifications", captured)).status == 202
    for _ in range(5):
        assert (await receive(the_deps, "notifications", captured)).status == 409
    assert (await receive(the_deps, "notifications", body(item, nonce=1))).status == 202
