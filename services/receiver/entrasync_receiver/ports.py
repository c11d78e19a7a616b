"""The ports the receiver's use case needs; `adapters/` implements them over NATS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from entrasync_shared.messages import ChangeNotified, SubscriptionRecord

from entrasync_receiver.domain.notifications import Refusal


class Unavailable(Exception):
    """NATS (the KV buckets or JetStream) did not answer: the POST gets 503, Graph retries."""


class Subscriptions(Protocol):
    """The `subscriptions` KV bucket, read only."""

    async def records(self, ids: Iterable[str]) -> Mapping[str, SubscriptionRecord | None]:
        """The record of each id (None when we hold no such subscription); a cached miss is
        read again, so a record written a moment ago is found."""
        ...


class ReplayGuard(Protocol):
    """Bodies accepted recently, on every replica."""

    async def first(self, digest: str) -> bool:
        """Remember `digest`; False when it was remembered already (a replay)."""
        ...

    async def forget(self, digest: str) -> None:
        """Forget `digest` (its POST could not be published after all: Graph retries it)."""
        ...


class Notifier(Protocol):
    async def publish(self, messages: Iterable[ChangeNotified]) -> None:
        """Publish each message on its subject and wait for every PubAck (`Unavailable` when
        JetStream does not confirm them in time)."""
        ...


class Counters(Protocol):
    def refused(self, route: str, reason: Refusal) -> None: ...

    def accepted(
        self, route: str, published: Mapping[str, int], left_out: Mapping[str, int]
    ) -> None:
        """An accepted POST: messages published by kind, items left out by verdict."""
        ...

    def validated(self, route: str) -> None: ...
