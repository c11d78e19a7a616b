"""How history's values look as MongoDB documents (and back).

Collections (one database, `ENTRASYNC_HISTORY_DB`):

- `inventory`: one document per (tenant, type, object id), `_id` = "<tenant>:<type>:<id>".
  Live objects have `deleted: false`; `members` holds a container's (a group's, a directory
  role's, an administrative unit's) live member ids (sorted),
  `hidden_members` those of its soft-deleted members (back in `members` once restored), and of
  members not live in the inventory (hidden by a run's finish, back once recorded);
  `pending_members` the live members added since the last run's finish, still to check.
  A group's members are typed: `member_types` maps the ids whose type is not `member_default`
  (usually "user") to their type. A group stored before types were kept has neither field:
  its members read as `unknown` until a round lists them again with their types.
- `history`: one row per (run, type), `_id` = "<run>:<type>". Once its start is known a row has
  `order` (the sort key, newest last: start time, run id, type), `kind` ("<type>|<status>")
  and `expire_at` (TTL); `error` exists only on rows that have one. `has_changes` is the run's:
  something changed or was deleted, a type failed or was cancelled, or it is still running;
  `numbers` holds the row's distinct counts (number search).
- `deleted_tenants`: tenants deleted with their history kept (name, domain, cloud, when).
- `history_counts`: how many rows a tenant has per UTC day, type and status (exact paging).
- `runs`: one document per run, `_id` = run id; `recorded` is the SyncRecorded once recorded.
- `tenants`: the last sync start/status per tenant, `_id` = tenant id.
- `applied_batches`: one marker per applied observation batch, `_id` = batch id (expires).
- `guardrail_overrides`: one per (tenant, type), `_id` = "<tenant>:<type>" (expires).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, get_args

from entrasync_shared.members import MemberRef, MemberType
from entrasync_shared.messages import (
    DeletedTenant,
    GuardrailOverride,
    HistoryRow,
    InventoryItem,
    SyncRecorded,
    TenantSyncStatus,
    TypeCounts,
)
from entrasync_shared.subjects import CONTAINER_TYPES, OBJECT_TYPES, ObjectType

from entrasync_history.domain.model import StoredObject
from entrasync_history.domain.paging import day_of, expiry
from entrasync_history.domain.positions import Position
from entrasync_history.domain.runs import RunStart
from entrasync_history.domain.search import run_has_changes

ROW_FIELDS = (
    "tenant_id",
    "run_id",
    "object_type",
    "mode",
    "reason",
    "status",
    "started_at",
    "finished_at",
    "total",
    "changed",
    "deleted",
    "filtered",
    "error",
    "guardrail_override",
    "received",
    "pages",
    "throttled_seconds",
    "attempts",
)


def object_key(tenant_id: str, object_type: ObjectType, object_id: str) -> str:
    return f"{tenant_id}:{object_type}:{object_id}"


MEMBER_OBJECT_TYPES: tuple[ObjectType, ...] = tuple(
    t for t in OBJECT_TYPES if t in get_args(MemberType)
)
"""The object types a member can be (never an application, a role or a unit)."""


def member_keys(tenant_id: str, members: Mapping[str, MemberType]) -> list[str]:
    """The inventory `_id`s of `members` (id → type): one each, or one per member object type
    for a member whose type is `unknown`."""
    keys = []
    for member_id, kind in members.items():
        kinds = [t for t in MEMBER_OBJECT_TYPES if t == kind] or MEMBER_OBJECT_TYPES
        keys += [object_key(tenant_id, t, member_id) for t in kinds]
    return keys


def row_key(run_id: str, object_type: ObjectType) -> str:
    return f"{run_id}:{object_type}"


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def object_document(obj: StoredObject, now: datetime) -> dict[str, Any]:
    return {
        "_id": object_key(obj.tenant_id, obj.object_type, obj.object_id),
        "tenant_id": obj.tenant_id,
        "object_type": obj.object_type,
        "object_id": obj.object_id,
        "attributes": dict(obj.attributes),
        "members": sorted(obj.members),
        "hidden_members": sorted(obj.hidden_members),
        "pending_members": sorted(obj.pending_members),
        **member_type_fields(obj),
        "content_hash": obj.content_hash,
        "first_seen": obj.first_seen,
        "last_seen_run": obj.last_seen_run,
        "last_seen_attempt": obj.last_seen_attempt,
        "last_seen_at": obj.last_seen_at,
        "deleted": not obj.live,
        "deleted_at": obj.deleted_at,
        "deletion": obj.deletion,
        "confirmed_run": obj.confirmed_run,
        "confirmed_members": sorted(obj.confirmed_members),
        "changed_run": obj.changed_run,
        "deleted_run": obj.deleted_run,
        "position": position_document(obj.position),
        "revision": obj.revision,
        "updated_at": now,
    }


def member_type_fields(obj: StoredObject) -> dict[str, Any]:
    """A container's member types (of its live and hidden members); nothing for other objects."""
    if obj.object_type not in CONTAINER_TYPES:
        return {}
    live, hidden = obj.members, obj.hidden_members
    return {
        "member_types": {
            m: t for m, t in sorted(obj.member_types.items()) if m in live or m in hidden
        },
        "member_default": obj.member_default,
    }


def position_document(position: Position | None) -> dict[str, Any] | None:
    if position is None:
        return None
    return {"started_at": position.started_at, "attempt": position.attempt, "seq": position.seq}


def position_from(doc: Mapping[str, Any] | None) -> Position | None:
    """An object's position (None for objects written before positions, or by old syncers)."""
    if not doc:
        return None
    return Position(utc(doc["started_at"]), doc["attempt"], doc["seq"])


def stored_object(doc: Mapping[str, Any]) -> StoredObject:
    return StoredObject(
        tenant_id=doc["tenant_id"],
        object_type=doc["object_type"],
        object_id=doc["object_id"],
        first_seen=utc(doc["first_seen"]),
        last_seen_run=doc["last_seen_run"],
        last_seen_attempt=doc.get("last_seen_attempt") or 1,
        last_seen_at=utc(doc["last_seen_at"]),
        attributes=doc.get("attributes") or {},
        members=frozenset(doc.get("members") or ()),
        hidden_members=frozenset(doc.get("hidden_members") or ()),
        pending_members=frozenset(doc.get("pending_members") or ()),
        member_types=doc.get("member_types") or {},
        member_default=doc.get("member_default") or "unknown",
        deleted_at=utc(doc["deleted_at"]) if doc.get("deleted_at") else None,
        deletion=doc.get("deletion"),
        confirmed_run=doc.get("confirmed_run"),
        confirmed_members=frozenset(doc.get("confirmed_members") or ()),
        changed_run=doc.get("changed_run"),
        deleted_run=doc.get("deleted_run"),
        position=position_from(doc.get("position")),
        revision=doc.get("revision") or 0,
    )


def inventory_item(doc: Mapping[str, Any]) -> InventoryItem:
    return InventoryItem(
        tenant_id=doc["tenant_id"],
        object_type=doc["object_type"],
        object_id=doc["object_id"],
        attributes=doc.get("attributes") or {},
        members=tuple(doc.get("members") or ()),
        member_refs=member_refs(doc),
        content_hash=doc["content_hash"],
        first_seen=utc(doc["first_seen"]),
        last_seen_run=doc["last_seen_run"],
        deleted=doc["deleted"],
        deleted_at=utc(doc["deleted_at"]) if doc.get("deleted_at") else None,
        deletion=doc.get("deletion"),
    )


def member_refs(doc: Mapping[str, Any]) -> tuple[MemberRef, ...]:
    """A group document's live members, typed (`unknown` for members stored untyped)."""
    types = doc.get("member_types") or {}
    default = doc.get("member_default") or "unknown"
    return tuple(MemberRef(type=types.get(m, default), id=m) for m in doc.get("members") or ())


def order_bound(moment: datetime) -> str:
    """`order` values compare as strings; a bare timestamp bounds every row that started then."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]


def row_order(started_at: datetime, run_id: str, object_type: ObjectType) -> str:
    """The rows' one sort key, newest first when descending: start (ms), run id, type."""
    return f"{order_bound(started_at)}|{run_id}|{object_type}"


def row_kind(object_type: str, status: str) -> str:
    """Type and status in one indexed value, so a search on either is one `$in`."""
    return f"{object_type}|{status}"


COUNT_FIELDS = ("total", "changed", "deleted", "filtered")


def row_numbers(fields: Mapping[str, Any]) -> list[int] | None:
    """The distinct counts a number search finds a row by, or None unless all four are known."""
    if not all(name in fields for name in COUNT_FIELDS):
        return None
    return sorted({int(fields[name]) for name in COUNT_FIELDS})


def placed(fields: dict[str, Any], retention_days: int) -> dict[str, Any]:
    """A complete row's fields plus its sort key, expiry and kind (and `has_changes`, which
    rows written without it count as: shown by the "changes or errors" filter)."""
    started_at = fields["started_at"]
    numbers = row_numbers(fields)
    return {
        "has_changes": True,
        **fields,
        "order": row_order(started_at, fields["run_id"], fields["object_type"]),
        "expire_at": expiry(started_at, retention_days),
        "kind": row_kind(fields["object_type"], fields["status"]),
        **({"numbers": numbers} if numbers is not None else {}),
    }


Cell = tuple[str, str, datetime, str, str, bool]


def count_cell(row: Mapping[str, Any] | None) -> Cell | None:
    """Which per-day count a row adds to: (cell id, tenant, day, type, status, has changes), or
    None while its start is unknown.

    Rows of runs with changes or errors keep the cell ids written before the flag existed (a row
    without `has_changes` counts as having changes), so those cells stay exact.
    """
    if not row or not all(row.get(k) for k in ("started_at", "status", "tenant_id", "object_type")):
        return None
    day = day_of(row["started_at"])
    tenant_id, object_type, status = row["tenant_id"], row["object_type"], row["status"]
    changes = row.get("has_changes", True) is not False
    cell_id = f"{tenant_id}|{day:%Y-%m-%d}|{object_type}|{status}" + ("" if changes else "|quiet")
    return cell_id, tenant_id, day, object_type, status, changes


def final_row(recorded: SyncRecorded, counts: TypeCounts) -> dict[str, Any]:
    return {
        "has_changes": run_has_changes(recorded.types),
        "tenant_id": recorded.tenant_id,
        "run_id": recorded.run_id,
        "object_type": counts.object_type,
        "mode": counts.mode,
        "reason": counts.reason,
        "status": counts.status,
        "started_at": recorded.started_at,
        "finished_at": recorded.finished_at,
        "total": counts.total,
        "changed": counts.changed,
        "deleted": counts.deleted,
        "filtered": counts.filtered,
        "error": counts.error,
        "guardrail_override": counts.guardrail_override,
        "throttled_seconds": counts.throttled_seconds,
        "attempts": recorded.attempts,
    }


def history_row(doc: Mapping[str, Any]) -> HistoryRow:
    fields = {k: v for k, v in doc.items() if k in ROW_FIELDS}
    for name in ("started_at", "finished_at"):
        if fields.get(name):
            fields[name] = utc(fields[name])
    return HistoryRow.model_validate(fields)


def run_start(run: Mapping[str, Any] | None) -> RunStart | None:
    """A run document's first start and attempts (runs recorded before attempts count one)."""
    if run is None or not run.get("started_at"):
        return None
    return RunStart(utc(run["started_at"]), run.get("attempts") or 1)


def recorded_document(recorded: SyncRecorded) -> dict[str, Any]:
    return recorded.model_dump(mode="json")


def recorded_from(doc: Mapping[str, Any]) -> SyncRecorded:
    return SyncRecorded.model_validate(doc)


def override_document(override: GuardrailOverride) -> dict[str, Any]:
    return {
        "_id": f"{override.tenant_id}:{override.object_type}",
        **override.model_dump(),
    }


def override_from(doc: Mapping[str, Any]) -> GuardrailOverride:
    fields = {k: v for k, v in doc.items() if k != "_id"}
    for name in ("granted_at", "expires_at", "used_at"):
        if fields.get(name):
            fields[name] = utc(fields[name])
    return GuardrailOverride.model_validate(fields)


def tenant_status(doc: Mapping[str, Any]) -> TenantSyncStatus:
    finished = doc.get("last_sync_finished_at")
    return TenantSyncStatus(
        tenant_id=doc["_id"],
        last_run_id=doc["last_run_id"],
        last_sync_started_at=utc(doc["last_sync_started_at"]),
        last_sync_status=doc["last_sync_status"],
        last_sync_finished_at=utc(finished) if finished else None,
        last_error=doc.get("last_error"),
    )


def deleted_tenant(doc: Mapping[str, Any]) -> DeletedTenant:
    return DeletedTenant(
        tenant_id=doc["_id"],
        name=doc["name"],
        tenant=doc.get("tenant") or "",
        cloud=doc.get("cloud") or "",
        deleted_at=utc(doc["deleted_at"]),
    )
