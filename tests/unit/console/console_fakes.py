"""Fakes of the console's ports: `FakeServices` answers each catalog endpoint from a handler,
`FakeEventLog` holds stored events in a list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from entrasync_console.ports import StoredEvents
from entrasync_shared.catalog import ENDPOINTS, Endpoint, NoArguments
from entrasync_shared.messages import ApiError, CredentialProfile, Tenant
from entrasync_shared.natsutil import ApiCallError

NOW = datetime(2026, 3, 10, 1, 2, 3, tzinfo=UTC)


@dataclass
class Call:
    endpoint: Endpoint[Any, Any]
    request: Any
    timeout: float | None


@dataclass
class FakeServices:
    """`ports.Services`: dispatches each call by its endpoint to what the test said it answers
    (a value, or a function of the request); an `ApiError` is raised as `ApiCallError`, an
    endpoint nobody answers is `unavailable` (as over NATS with the service down)."""

    answers: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    connected: bool = True

    def answer(self, endpoint: Endpoint[Any, Any], answer: Any) -> None:
        self.answers[endpoint.name] = answer if callable(answer) else (lambda _: answer)

    async def call(
        self,
        endpoint: Endpoint[Any, Any],
        request: Any = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"{endpoint.name} is not in the catalog")
        request = NoArguments() if request is None else request
        assert isinstance(request, endpoint.request), f"{endpoint.name} got {request!r}"
        self.calls.append(Call(endpoint, request, timeout))
        if endpoint.name not in self.answers:
            message = f"the {endpoint.service} service does not answer {endpoint.verb!r}"
            raise ApiCallError(ApiError(code="unavailable", message=message))
        result = self.answers[endpoint.name](request)
        if isinstance(result, ApiError):
            raise ApiCallError(result)
        return result

    def asked(self, endpoint: Endpoint[Any, Any]) -> list[Any]:
        return [c.request for c in self.calls if c.endpoint == endpoint]


def tenant(tenant_id: str, name: str, domain: str, **values: Any) -> Tenant:
    fields: dict[str, Any] = {
        "id": tenant_id,
        "name": name,
        "tenant": domain,
        "cloud": "global",
        "profile_id": "p1",
        "enabled": True,
        "full_scan_next": False,
        "object_types": ("user", "group", "device"),
        "interval_seconds": 60,
        "created_at": NOW,
        "updated_at": NOW,
        **values,
    }
    return Tenant.model_validate(fields)


def profile(profile_id: str, name: str) -> CredentialProfile:
    return CredentialProfile(
        id=profile_id, name=name, client_id="c", created_at=NOW, updated_at=NOW
    )


@dataclass
class FakeEventLog:
    """`ports.EventLog` over a list, oldest first (subjects are not matched: the list holds
    what the test means to be found); remembers what it was asked."""

    events: list[dict[str, Any]] = field(default_factory=list)
    asked: list[tuple[tuple[str, ...], datetime, int]] = field(default_factory=list)

    async def newest(self, subjects: tuple[str, ...], since: datetime, limit: int) -> StoredEvents:
        self.asked.append((subjects, since, limit))
        return StoredEvents(self.events[-limit:], complete=len(self.events) <= limit)
