"""Accept one notification POST: verify it, rate-limit it, refuse replays, publish it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from entrasync_shared.messages import ChangeNotified

from entrasync_receiver.domain.notifications import (
    Refused,
    Verdict,
    body_digest,
    judge,
    message_id,
    parse_batch,
)
from entrasync_receiver.domain.ratelimit import TenantRateLimit
from entrasync_receiver.ports import Counters, Notifier, ReplayGuard, Subscriptions, Unavailable

log = logging.getLogger("entrasync.receiver")


@dataclass(frozen=True)
class Deps:
    subscriptions: Subscriptions
    replays: ReplayGuard
    notifier: Notifier
    counters: Counters
    limit: TenantRateLimit
    wall_clock: Callable[[], datetime]
    monotonic: Callable[[], float]


@dataclass(frozen=True)
class Answer:
    """What to answer Graph: an HTTP status, and the seconds of a 429's Retry-After."""

    status: int
    reason: str = "accepted"
    retry_after: int | None = None
    published: int = 0


def messages(verdict: Verdict, digest: str, now: datetime) -> list[ChangeNotified]:
    """One `ChangeNotified` per group of an accepted POST."""
    return [
        ChangeNotified(
            id=message_id(digest, group),
            tenant_id=group.tenant_id,
            object_type=group.object_type,
            kind=group.kind,
            subscription_id=group.subscription_id,
            count=group.count,
            received_at=now,
        )
        for group in verdict.groups
    ]


async def _verdict(deps: Deps, body: bytes) -> Verdict:
    items = parse_batch(body)
    try:
        records = await deps.subscriptions.records(item.subscription_id for item in items)
    except Unavailable as err:
        raise Refused("unavailable", str(err)) from None
    return judge(items, records, deps.wall_clock())


async def _forget(deps: Deps, digest: str) -> None:
    """Forget a body that was not published after all, so that Graph's retry is no replay."""
    try:
        await deps.replays.forget(digest)
    except Unavailable:
        log.warning("could not forget body %s: its retry is refused for a while", digest[:12])


async def _publish(deps: Deps, verdict: Verdict, digest: str) -> int:
    """Publish an accepted POST once across replicas; the number of messages published.

    Replays are refused before the rate limit, so replaying a captured body drains no tenant's
    tokens; a POST refused after its body was remembered (rate limit, NATS) is forgotten again.
    """
    try:
        if not await deps.replays.first(digest):
            raise Refused("replayed", f"body {digest[:12]} was accepted already")
    except Unavailable as err:
        raise Refused("unavailable", str(err)) from None
    wait = deps.limit.take(verdict.tenants, deps.monotonic())
    if wait is not None:
        await _forget(deps, digest)
        raise Refused("rate_limited", f"retry after {wait}s", retry_after=wait)
    try:
        await deps.notifier.publish(messages(verdict, digest, deps.wall_clock()))
    except Unavailable as err:
        await _forget(deps, digest)
        raise Refused("unavailable", str(err)) from None
    return len(verdict.groups)


def refuse(deps: Deps, route: str, refused: Refused) -> Answer:
    """Count and log a refused POST (never with its body: it holds clientState secrets)."""
    deps.counters.refused(route, refused.reason)
    log.warning("refused a POST to /%s (%s): %s", route, refused.status, refused)
    return Answer(refused.status, refused.reason, refused.retry_after)


async def receive(deps: Deps, route: str, body: bytes) -> Answer:
    """Graph's POST of `body` to `route`: the answer, every refusal counted and logged (never
    with the body: it holds clientState secrets)."""
    digest = body_digest(body)
    try:
        verdict = await _verdict(deps, body)
        published = await _publish(deps, verdict, digest)
    except Refused as refused:
        return refuse(deps, route, refused)
    by_kind: dict[str, int] = {}
    for group in verdict.groups:
        by_kind[group.kind] = by_kind.get(group.kind, 0) + 1
    deps.counters.accepted(route, by_kind, {str(k): v for k, v in verdict.left_out.items()})
    if verdict.left_out:
        log.info("accepted a POST to /%s leaving out %s", route, dict(verdict.left_out))
    return Answer(202, published=published)
