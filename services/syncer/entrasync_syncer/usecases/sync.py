"""One sync run: read every requested object type of a tenant and publish what Graph says.

The flow only talks to ports (`entrasync_syncer.ports`), so unit tests drive it with fakes.
Graph failures end up in the run's `TypeResult`s; infrastructure failures (NATS) escape as
`InfrastructureError` so the caller can retry the whole command.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from entrasync_shared.messages import (
    Credential,
    StartSync,
    SyncFinished,
    SyncStarted,
    TypeResult,
    utcnow,
)

from entrasync_syncer.domain import LINK_LIFETIME, directory_guid
from entrasync_syncer.domain.filters import Scope, member_ids
from entrasync_syncer.domain.ids import compact_id
from entrasync_syncer.ports import (
    CredentialRefused,
    CredentialSource,
    CursorStore,
    DeletionWatch,
    GraphConnector,
    GraphError,
    GraphReader,
    InfrastructureError,
    RequestStats,
    RunLeases,
    RunPublisher,
    TenantDeletedMidRun,
    TenantGone,
    TokenError,
    TokenSource,
    TokenSupplier,
)
from entrasync_syncer.usecases.rounds import TypeRun

log = logging.getLogger("entrasync.syncer")

TENANT_DELETED = "cancelled: the tenant was deleted while this run was in progress"


@dataclass(frozen=True)
class RunOptions:
    """Timings of a run; the defaults suit production, tests shorten them."""

    lease_wait: float = 60.0
    lease_poll: float = 1.0
    lease_renew: float = 10.0
    link_lifetime: timedelta = LINK_LIFETIME
    max_batch_bytes: int = 512 * 1024


@dataclass(frozen=True)
class Deps:
    """Everything a run needs; built once per process in `main.build_app`."""

    credentials: CredentialSource
    tokens: TokenSource
    graph: GraphConnector
    cursors: CursorStore
    publisher: RunPublisher
    leases: RunLeases
    deletions: DeletionWatch
    options: RunOptions = field(default_factory=RunOptions)


async def sync_tenant(command: StartSync, deps: Deps, attempt: int = 1) -> SyncFinished:
    """Run `command` to its end and publish `SyncFinished`; return that event."""
    started_at = utcnow()
    if deps.deletions.deleted(command.tenant_id):
        log.warning(
            "run %s of tenant %s cancelled: tenant deleted", command.run_id, command.tenant_id
        )
        results = _all(command, "Cancelled", TENANT_DELETED)
        return await _finish(command, deps, started_at, results, attempt)
    try:
        credential = await deps.credentials.credential(command.tenant_id)
    except TenantGone as exc:
        log.warning("run %s of tenant %s cancelled: %s", command.run_id, command.tenant_id, exc)
        results = _all(command, "Cancelled", str(exc))
        return await _finish(command, deps, started_at, results, attempt)
    except CredentialRefused as exc:
        log.warning("run %s of tenant %s refused: %s", command.run_id, command.tenant_id, exc)
        return await _finish(command, deps, started_at, _all(command, "Failed", str(exc)), attempt)
    await deps.publisher.started(
        SyncStarted(
            # Each attempt's start is its own message (the stream would drop a retry's start as
            # a duplicate), so history can count the attempts.
            id=f"{command.run_id}:started" + (f":a{attempt}" if attempt > 1 else ""),
            run_id=command.run_id,
            tenant_id=command.tenant_id,
            mode=command.mode,
            reason=command.reason,
            object_types=command.object_types,
            attempt=attempt,
        )
    )
    token = RunToken(deps.tokens, credential)
    try:
        directory = directory_guid(credential.tenant, await token(False))
    except TokenError as exc:
        log.warning("run %s: no token for tenant %s: %s", command.run_id, command.tenant_id, exc)
        return await _finish(command, deps, started_at, _all(command, "Failed", str(exc)), attempt)
    async with deps.graph.open(credential.cloud) as graph:
        try:
            scope = await read_scope(graph, token, credential)
        except GraphError as exc:
            error = f"reading the group scope failed: {exc}"
            return await _finish(command, deps, started_at, _all(command, "Failed", error), attempt)
        runs = [
            TypeRun(
                command,
                object_type,
                attempt,
                graph,
                token,
                deps.cursors,
                deps.publisher,
                scope,
                credential.cloud.graph_url,
                deps.options.link_lifetime,
                deps.options.max_batch_bytes,
                entra_tenant_id=directory,
                deletions=deps.deletions,
                started_at=started_at,
            )
            for object_type in command.object_types
        ]
        deleted = False
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(run.run()) for run in runs]
        except* TenantDeletedMidRun:
            deleted = True
        except* InfrastructureError as failure:
            raise failure.exceptions[0] from None
    if deleted:
        # Its types stopped half-way: none is a result, and none stored its deltaLink.
        log.warning(
            "run %s of tenant %s cancelled: tenant deleted", command.run_id, command.tenant_id
        )
        results = _all(command, "Cancelled", TENANT_DELETED)
    else:
        results = tuple([task.result() for task in tasks])
    return await _finish(command, deps, started_at, results, attempt, directory)


async def give_up(command: StartSync, deps: Deps, error: str, attempt: int = 1) -> None:
    """Best effort: tell consumers the run ended in failure (NATS itself may be what fails)."""
    try:
        await _finish(command, deps, utcnow(), _all(command, "Failed", error), attempt)
    except InfrastructureError as exc:
        log.error("run %s: could not publish its failure: %s", command.run_id, exc)


async def read_scope(graph: GraphReader, token: TokenSupplier, credential: Credential) -> Scope:
    """The tenant's filters, with the direct members of its scope groups read afresh."""
    filters = credential.filters
    members: set[int | str] = set()
    graph_url = credential.cloud.graph_url.rstrip("/")
    for group_id in filters.member_of_groups:
        url: str | None = f"{graph_url}/v1.0/groups/{group_id}/members?$select=id&$top=999"
        while url:
            try:
                page = await graph.page(url, token, RequestStats())
            except GraphError as exc:
                raise GraphError(f"group {group_id}: {exc}") from None
            members.update(compact_id(m.lower()) for m in member_ids(page.entries))
            url = page.next_link
    return Scope(filters, frozenset(members))


def _all(command: StartSync, status: str, error: str) -> tuple[TypeResult, ...]:
    return tuple(
        TypeResult(
            object_type=object_type,
            mode=command.mode,
            reason=command.reason,
            status=status,  # type: ignore[arg-type]
            error=error,
        )
        for object_type in command.object_types
    )


async def _finish(
    command: StartSync,
    deps: Deps,
    started_at: datetime,
    results: tuple[TypeResult, ...],
    attempt: int,
    entra_tenant_id: str | None = None,
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
        attempt=attempt,
        entra_tenant_id=entra_tenant_id,
    )
    await deps.publisher.finished(finished)
    log.info(
        "run %s of tenant %s %s: %s",
        command.run_id,
        command.tenant_id,
        finished.status,
        ", ".join(
            f"{r.object_type}={r.status}/{r.total}/{r.filtered}f/{r.pages}p" for r in results
        ),
    )
    return finished


class RunToken:
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
