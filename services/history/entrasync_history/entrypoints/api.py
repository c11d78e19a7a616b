"""The request-reply API: validate a request, run one query, answer with a `Reply`.

Error codes: `invalid` (the request does not validate; `field` says which part), `not_found`,
`unavailable` (MongoDB unreachable) and `internal`. A refused request changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from entrasync_shared.messages import (
    DeletedTenants,
    DeletedTenantsQuery,
    GuardrailOverrideGrant,
    GuardrailOverrides,
    HistoryCountsQuery,
    HistoryExportChunk,
    HistoryExportRequest,
    HistoryObjectQuery,
    HistoryObjectsQuery,
    HistoryRunsQuery,
    InventoryItem,
    Page,
    Reply,
    TenantsStatusQuery,
    TenantsSyncStatus,
)
from entrasync_shared.natsutil import failed, ok
from pydantic import BaseModel, ValidationError
from pymongo.errors import PyMongoError

from entrasync_history.domain import csvexport
from entrasync_history.ports import HistoryQueries

log = logging.getLogger(__name__)
Q = TypeVar("Q", bound=BaseModel)


class NotFound(Exception):
    """The request names something history does not hold."""


async def answer(
    request_type: type[Q], payload: bytes, work: Callable[[Q], Awaitable[Any]]
) -> Reply[Any]:
    try:
        request = request_type.model_validate_json(payload or b"{}")
    except ValidationError as error:
        return failed("invalid", _message(error), _field(error))
    try:
        return ok(await work(request))
    except NotFound as error:
        return failed("not_found", str(error))
    except PyMongoError:
        log.exception("history query %s failed", request_type.__name__)
        return failed("unavailable", "the history database is not reachable; retry later")
    except Exception:
        log.exception("history query %s failed", request_type.__name__)
        return failed("internal", "internal error; see the history service log")


def _message(error: ValidationError) -> str:
    first = error.errors()[0]
    return str(first.get("msg", "invalid request")).removeprefix("Value error, ")


def _field(error: ValidationError) -> str | None:
    location = error.errors()[0].get("loc") or ()
    return ".".join(str(part) for part in location) or None


def _now() -> datetime:
    return datetime.now(UTC)


async def list_runs(queries: HistoryQueries, payload: bytes) -> Reply[Any]:
    async def work(query: HistoryRunsQuery) -> Page[Any]:
        rows, total = await queries.history_rows(query, _now())
        return Page(items=tuple(rows), total=total, page=query.page, page_size=query.page_size)

    return await answer(HistoryRunsQuery, payload, work)


async def export_runs(queries: HistoryQueries, payload: bytes) -> Reply[Any]:
    async def work(request: HistoryExportRequest) -> HistoryExportChunk:
        rows, after = await queries.export_chunk(request, _now())
        text = csvexport.encode(rows, header=request.after is None)
        return HistoryExportChunk(csv=text, rows=len(rows), next=after)

    return await answer(HistoryExportRequest, payload, work)


async def list_objects(queries: HistoryQueries, payload: bytes) -> Reply[Any]:
    async def work(query: HistoryObjectsQuery) -> Page[Any]:
        items, total = await queries.inventory(query)
        return Page(items=tuple(items), total=total, page=query.page, page_size=query.page_size)

    return await answer(HistoryObjectsQuery, payload, work)


async def get_object(queries: HistoryQueries, payload: bytes) -> Reply[Any]:
    async def work(query: HistoryObjectQuery) -> InventoryItem:
        item = await queries.inventory_item(query)
        if item is None:
            raise NotFound(f"no {query.object_type} {query.object_id} in tenant {query.tenant_id}")
        return item

    return await answer(HistoryObjectQuery, payload, work)


async def count_objects(queries: HistoryQueries, payload: bytes) -> Reply[Any]:
    async def work(query: HistoryCountsQuery) -> Any:
        return await queries.inventory_counts(query.tenant_id)

    return await answer(HistoryCountsQuery, payload, work)


async def tenants_status(queries: HistoryQueries, payload: bytes) -> Reply[Any]:
    async def work(query: TenantsStatusQuery) -> TenantsSyncStatus:
        return TenantsSyncStatus(items=tuple(await queries.tenants_status(query)))

    return await answer(TenantsStatusQuery, payload, work)


async def override_guardrail(queries: HistoryQueries, payload: bytes) -> Reply[Any]:
    async def work(grant: GuardrailOverrideGrant) -> GuardrailOverrides:
        granted = await queries.grant_override(grant, _now())
        log.warning(
            "guardrail override for tenant %s (%s) granted by %s: %s",
            grant.tenant_id,
            ", ".join(grant.object_types),
            grant.operator,
            grant.note or "no note",
        )
        return GuardrailOverrides(items=tuple(granted))

    return await answer(GuardrailOverrideGrant, payload, work)


async def deleted_tenants(queries: HistoryQueries, payload: bytes) -> Reply[Any]:
    async def work(query: DeletedTenantsQuery) -> DeletedTenants:
        return DeletedTenants(items=tuple(await queries.deleted_tenants(query)))

    return await answer(DeletedTenantsQuery, payload, work)
