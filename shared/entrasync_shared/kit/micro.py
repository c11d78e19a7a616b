"""The NATS micro protocol (`$SRV.PING/INFO/STATS`), so ops tools discover each service's API.

nats-py's `nats.micro` serves endpoints itself; entrasync's endpoints are FastStream subscribers
wired by `kit.ApiRouter`, so this module answers only the discovery subjects, with the same
response documents, from the statistics the router records.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from faststream.nats import NatsBroker, NatsRouter
from faststream.nats.annotations import NatsMessage

from entrasync_shared.messages import new_id


@dataclass
class EndpointStats:
    name: str
    subject: str
    queue_group: str
    num_requests: int = 0
    num_errors: int = 0
    processing_time: int = 0
    last_error: str = ""

    def as_info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "subject": self.subject,
            "queue_group": self.queue_group,
            "metadata": {},
        }

    def as_stats(self) -> dict[str, Any]:
        average = self.processing_time // self.num_requests if self.num_requests else 0
        return {
            **self.as_info(),
            "num_requests": self.num_requests,
            "num_errors": self.num_errors,
            "last_error": self.last_error,
            "processing_time": self.processing_time,
            "average_processing_time": average,
            "data": None,
        }


@dataclass
class MicroService:
    """One running instance: its identity and per-endpoint statistics."""

    name: str  # e.g. "entrasync-config"
    description: str
    version: str
    metadata: dict[str, str]
    id: str = field(default_factory=new_id)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    endpoints: dict[str, EndpointStats] = field(default_factory=dict)

    def endpoint(self, verb: str, subject: str, queue_group: str) -> None:
        name = verb.replace(".", "-")
        self.endpoints[verb] = EndpointStats(name, subject, queue_group)

    def record(self, verb: str, started_ns: int, error: str | None) -> None:
        stats = self.endpoints.get(verb)
        if stats is None:
            return
        stats.num_requests += 1
        stats.processing_time += time.perf_counter_ns() - started_ns
        if error is not None:
            stats.num_errors += 1
            stats.last_error = error

    def _base(self, kind: str) -> dict[str, Any]:
        return {
            "type": f"io.nats.micro.v1.{kind}_response",
            "name": self.name,
            "id": self.id,
            "version": self.version,
            "metadata": self.metadata,
        }

    def ping(self) -> dict[str, Any]:
        return self._base("ping")

    def info(self) -> dict[str, Any]:
        return {
            **self._base("info"),
            "description": self.description,
            "endpoints": [e.as_info() for e in self.endpoints.values()],
        }

    def stats(self) -> dict[str, Any]:
        return {
            **self._base("stats"),
            "started": self.started.isoformat().replace("+00:00", "Z"),
            "endpoints": [e.as_stats() for e in self.endpoints.values()],
        }


def _responder(build: Callable[[], dict[str, Any]]) -> Callable[[NatsMessage], Awaitable[Any]]:
    async def on_discovery(msg: NatsMessage) -> dict[str, Any]:
        return build()

    return on_discovery


def register_discovery(broker: NatsBroker | NatsRouter, service: MicroService) -> None:
    """Answer `$SRV.<VERB>`, `$SRV.<VERB>.<name>` and `$SRV.<VERB>.<name>.<id>` (no queue)."""
    answers = {"PING": service.ping, "INFO": service.info, "STATS": service.stats}
    for verb, build in answers.items():
        scopes = {"all": "", "name": f".{service.name}", "id": f".{service.name}.{service.id}"}
        for scope, suffix in scopes.items():
            subscriber = broker.subscriber(
                f"$SRV.{verb}{suffix}",
                title=f"{service.name}.micro.{verb.lower()}.{scope}",
                include_in_schema=False,  # protocol plumbing, not part of the contract
            )
            subscriber(_responder(build))
