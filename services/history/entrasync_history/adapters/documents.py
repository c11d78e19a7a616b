"""How history's values look as MongoDB documents (and back).

Collections (one database, `ENTRASYNC_HISTORY_DB`):

- `inventory`: one document per (tenant, type, object id), `_id` = "<tenant>:<type>:<id>".
  Live objects have `deleted: false`; `members` holds a group's member ids (sorted).
- `history`: one row per (run, type), `_id` = "<run>:<type>".
- `runs`: one document per run, `_id` = run id; `recorded` is the SyncRecorded once recorded.
- `tenants`: the last sync start/status per tenant, `_id` = tenant id.
- `applied_batches`: one marker per applied observation batch, `_id` = batch id (expires).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from entrasync_shared.messages import HistoryRow, InventoryItem, SyncRecorded, TypeCounts
from entrasync_shared.subjects import ObjectType

from entrasync_history.domain.model import StoredObject


def object_key(tenant_id: str, object_type: ObjectType, object_id: str) -> str:
    return f"{tenant_id}:{object_type}:{object_id}"


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
        "content_hash": obj.content_hash,
        "first_seen": obj.first_seen,
        "last_seen_run": obj.last_seen_run,
        "last_seen_at": obj.last_seen_at,
        "deleted": not obj.live,
        "deleted_at": obj.deleted_at,
        "deletion": obj.deletion,
        "confirmed_run": obj.confirmed_run,
        "confirmed_members": sorted(obj.confirmed_members),
        "changed_run": obj.changed_run,
        "deleted_run": obj.deleted_run,
        "updated_at": now,
    }


def stored_object(doc: Mapping[str, Any]) -> StoredObject:
    return StoredObject(
        tenant_id=doc["tenant_id"],
        object_type=doc["object_type"],
        object_id=doc["object_id"],
        first_seen=utc(doc["first_seen"]),
        last_seen_run=doc["last_seen_run"],
        last_seen_at=utc(doc["last_seen_at"]),
        attributes=doc.get("attributes") or {},
        members=frozenset(doc.get("members") or ()),
        deleted_at=utc(doc["deleted_at"]) if doc.get("deleted_at") else None,
        deletion=doc.get("deletion"),
        confirmed_run=doc.get("confirmed_run"),
        confirmed_members=frozenset(doc.get("confirmed_members") or ()),
        changed_run=doc.get("changed_run"),
        deleted_run=doc.get("deleted_run"),
    )


def inventory_item(doc: Mapping[str, Any]) -> InventoryItem:
    return InventoryItem(
        tenant_id=doc["tenant_id"],
        object_type=doc["object_type"],
        object_id=doc["object_id"],
        attributes=doc.get("attributes") or {},
        members=tuple(doc.get("members") or ()),
        content_hash=doc["content_hash"],
        first_seen=utc(doc["first_seen"]),
        last_seen_run=doc["last_seen_run"],
        deleted=doc["deleted"],
        deleted_at=utc(doc["deleted_at"]) if doc.get("deleted_at") else None,
        deletion=doc.get("deletion"),
    )


def final_row(recorded: SyncRecorded, counts: TypeCounts) -> dict[str, Any]:
    return {
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
    }


def history_row(doc: Mapping[str, Any]) -> HistoryRow:
    fields = {k: v for k, v in doc.items() if k != "_id"}
    for name in ("started_at", "finished_at"):
        if fields.get(name):
            fields[name] = utc(fields[name])
    return HistoryRow.model_validate(fields)


def recorded_document(recorded: SyncRecorded) -> dict[str, Any]:
    return recorded.model_dump(mode="json")


def recorded_from(doc: Mapping[str, Any]) -> SyncRecorded:
    return SyncRecorded.model_validate(doc)
