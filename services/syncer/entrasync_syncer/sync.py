"""One sync run: read every requested object type of a tenant and publish what Graph says.

The flow only talks to ports (`entrasync_syncer.ports`), so unit tests drive it with fakes.
Graph failures end up in the run's `TypeResult`s; infrastructure failures (NATS) escape as
`InfrastructureError` so the caller can retry the whole command.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from entrasync_shared.messages import (
    Credential,
    ObservationBatch,
    StartSync,
    SyncFinished,
    SyncMode,
    SyncReason,
    SyncStarted,
    TypeResult,
    utcnow,
)
from entrasync_shared.subjects import ObjectType

from entrasync_syncer.domain import PageReader, batch_id, full_round_url, plan_type
from entrasync_syncer.ports import (
    CredentialRefused,
    CredentialSource,
    CursorStore,
    DeltaLinkExpired,
    GraphConnector,
    GraphError,
    GraphReader,
    InfrastructureError,
    RunPublisher,
    TenantGone,
    TokenError,
    TokenSource,
)

log = logging.getLogger("entrasync.syncer")


@dataclass(frozen=True)
class Deps:
    """Everything a run needs; built once per process in `main.build_app`."""

    credentials: CredentialSource
    tokens: TokenSource
    graph: GraphConnector
    cursors: CursorStore
    publisher: RunPublisher


async def sync_tenant(command: StartSync, deps: Deps, attempt: int = 1) -> SyncFinished:
    """Run `command` to its end and publish `SyncFinished`; return that event."""
    started_at = utcnow()
    try:
        credential = await deps.credentials.credential(command.tenant_id)
    except (TenantGone, CredentialRefused) as exc:
        log.warning("run %s of tenant %s refused: %s", command.run_id, command.tenant_id, exc)
        results = _all_failed(command, str(exc))
        return await _finish(command, deps, started_at, results)
    await deps.publisher.started(
        SyncStarted(
            id=f"{command.run_id}:started",
            run_id=command.run_id,
            tenant_id=command.tenant_id,
            mode=command.mode,
            reason=command.reason,
            object_types=command.object_types,
        )
    )
    token = _RunToken(deps.tokens, credential)
    try:
        await token(False)
    except TokenError as exc:
        log.warning("run %s: no token for tenant %s: %s", command.run_id, command.tenant_id, exc)
        return await _finish(command, deps, started_at, _all_failed(command, str(exc)))
    async with deps.graph.open(credential.cloud) as graph:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(
                        _TypeRun(command, object_type, attempt, deps, graph, token).run(
                            credential.cloud.graph_url
                        )
                    )
                    for object_type in command.object_types
                ]
        except* InfrastructureError as failure:
            raise failure.exceptions[0] from None
    return await _finish(command, deps, started_at, tuple(task.result() for task in tasks))


async def give_up(command: StartSync, deps: Deps, error: str) -> None:
    """Best effort: tell consumers the run ended in failure (NATS itself may be what fails)."""
    try:
        await _finish(command, deps, utcnow(), _all_failed(command, error))
    except InfrastructureError as exc:
        log.error("run %s: could not publish its failure: %s", command.run_id, exc)


def _all_failed(command: StartSync, error: str) -> tuple[TypeResult, ...]:
    return tuple(
        TypeResult(
            object_type=object_type,
            mode=command.mode,
            reason=command.reason,
            status="Failed",
            error=error,
        )
        for object_type in command.object_types
    )


async def _finish(
    command: StartSync, deps: Deps, started_at: datetime, results: tuple[TypeResult, ...]
) -> SyncFinished:
    finished = SyncFinished(
        id=f"{command.run_id}:finished",
        run_id=command.run_id,
        tenant_id=command.tenant_id,
        mode=command.mode,
        reason=command.reason,
        started_at=started_at,
        finished_at=utcnow(),
        results=results,
    )
    await deps.publisher.finished(finished)
    log.info(
        "run %s of tenant %s %s: %s",
        command.run_id,
        command.tenant_id,
        finished.status,
        ", ".join(f"{r.object_type}={r.status}/{r.total}" for r in results),
    )
    return finished


class _RunToken:
    """The run's bearer token, shared by its object types; `fresh` fetches a new one."""

    def __init__(self, tokens: TokenSource, credential: Credential) -> None:
        self._tokens = tokens
        self._credential = credential
        self._current: str | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, fresh: bool) -> str:
        async with self._lock:
            if self._current is None or fresh:
                self._current = await self._tokens.token(self._credential, fresh=fresh)
            return self._current


@dataclass
class _TypeRun:
    command: StartSync
    object_type: ObjectType
    attempt: int
    deps: Deps
    graph: GraphReader
    token: _RunToken
    reader: PageReader = field(default_factory=PageReader)
    batches: int = 0
    seq: int = 0

    async def run(self, graph_url: str) -> TypeResult:
        tenant_id = self.command.tenant_id
        cursor = None
        if self.command.mode == "delta":
            cursor = await self.deps.cursors.get(tenant_id, self.object_type)
        mode, reason = plan_type(self.command.mode, self.command.reason, cursor is not None)
        full_url = full_round_url(graph_url, self.object_type)
        try:
            try:
                link = await self._walk(cursor if mode == "delta" and cursor else full_url, mode)
            except DeltaLinkExpired as exc:
                log.warning(
                    "run %s: %s link of tenant %s unusable (%s); full round",
                    self.command.run_id,
                    self.object_type,
                    tenant_id,
                    exc,
                )
                await self.deps.cursors.discard(tenant_id, self.object_type)
                mode, reason = "full", "resync"
                self.reader.reset()
                link = await self._walk(full_url, mode)
        except GraphError as exc:
            return self._result(mode, reason, error=str(exc))
        await self.deps.cursors.put(tenant_id, self.object_type, link)
        if self.reader.skipped:
            log.warning(
                "run %s: skipped %d %s entries without an id",
                self.command.run_id,
                self.reader.skipped,
                self.object_type,
            )
        return self._result(mode, reason)

    async def _walk(self, url: str, mode: SyncMode) -> str:
        """Follow one delta round to its end, publishing page by page; return the deltaLink."""
        while True:
            page = await self.graph.page(url, self.token)
            objects, removals = self.reader.read(page.entries)
            if objects or removals:
                await self.deps.publisher.batch(
                    ObservationBatch(
                        id=batch_id(self.command.run_id, self.object_type, self.seq, self.attempt),
                        run_id=self.command.run_id,
                        tenant_id=self.command.tenant_id,
                        object_type=self.object_type,
                        seq=self.seq,
                        mode=mode,
                        objects=tuple(objects),
                        removals=tuple(removals),
                    )
                )
                self.seq += 1
                self.batches += 1
            if page.delta_link:
                return page.delta_link
            if not page.next_link:
                raise GraphError("Graph page without @odata.nextLink or @odata.deltaLink")
            url = page.next_link

    def _result(self, mode: SyncMode, reason: SyncReason, error: str | None = None) -> TypeResult:
        return TypeResult(
            object_type=self.object_type,
            mode=mode,
            reason=reason,
            status="Failed" if error else "Succeeded",
            total=self.reader.total,
            batches=self.batches,
            error=error,
        )
