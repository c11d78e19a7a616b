"""`MongoEffective`: the edges effective membership reads from the inventory, and the stored
closure (docs/effective-membership.md).

Collections:

- `effective_ancestors`: one document per nested group, `_id` = "<tenant>:<group>",
  `{tenant_id, group_id, up: [{id, type, path}]}` (its ancestors: groups and directory roles,
  each with the path from it down to the group's direct parent); indexed by (tenant, up.id).
- `effective_state`: one document per tenant whose closure was computed, `_id` = tenant id.

The inventory's `(tenant, members)` index answers "which containers hold X"; its `_id`s
("<tenant>:<type>:<id>") are point lookups.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterator
from datetime import datetime
from typing import Any

from entrasync_shared.members import MemberType
from entrasync_shared.subjects import CONTAINER_TYPES
from pymongo import ASCENDING, DeleteOne, IndexModel, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from entrasync_history.adapters.documents import MEMBER_OBJECT_TYPES, object_key
from entrasync_history.domain.effective import Path
from entrasync_history.domain.effective_plan import ROLE_TEMPLATE, ClosureUpdate, ContainerEdges

CHUNK = 5_000
"""Ids per `$in` (a whale group's reach stays within a query's limits)."""
EDGE_FIELDS = {"object_type": 1, "object_id": 1, "member_types": 1, "member_default": 1}


def _chunks(ids: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def _edges(doc: dict[str, Any], members: list[str] | None = None) -> ContainerEdges:
    types: dict[str, MemberType] = doc.get("member_types") or {}
    default: MemberType = doc.get("member_default") or "unknown"
    held = doc.get("members") if members is None else members
    attributes = doc.get("attributes") or {}
    template = attributes.get(ROLE_TEMPLATE)
    name = attributes.get("displayName")
    return ContainerEdges(
        doc["object_type"],
        doc["object_id"],
        {m: types.get(m, default) for m in held or ()},
        template if isinstance(template, str) else None,
        name if isinstance(name, str) else None,
    )


def closure_document(
    tenant_id: str, group: str, up: dict[str, Path], roles: Collection[str]
) -> dict[str, Any]:
    """A nested group's stored ancestors."""
    return {
        "_id": f"{tenant_id}:{group}",
        "tenant_id": tenant_id,
        "group_id": group,
        "up": [
            {"id": a, "type": "directoryRole" if a in roles else "group", "path": list(path)}
            for a, path in sorted(up.items())
        ],
    }


def _up(doc: dict[str, Any]) -> dict[str, Path]:
    return {entry["id"]: tuple(entry["path"]) for entry in doc.get("up") or ()}


class MongoEffective:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._inventory = db["inventory"]
        self._closure = db["effective_ancestors"]
        self._state = db["effective_state"]

    async def ensure_indexes(self) -> None:
        await self._closure.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("up.id", ASCENDING)]),
                IndexModel([("tenant_id", ASCENDING), ("_id", ASCENDING)]),
            ]
        )

    # -- reading ------------------------------------------------------------------------------

    async def closure_built(self, tenant_id: str) -> bool:
        return await self._state.find_one({"_id": tenant_id}, {"_id": 1}) is not None

    async def _find_keys(self, keys: list[str], fields: dict[str, int]) -> list[ContainerEdges]:
        query = {"_id": {"$in": keys}, "deleted": False}
        return [_edges(doc) async for doc in self._inventory.find(query, fields)]

    async def groups(self, tenant_id: str, ids: Collection[str]) -> list[ContainerEdges]:
        found = []
        for chunk in _chunks(ids):
            keys = [object_key(tenant_id, "group", i) for i in chunk]
            found += await self._find_keys(keys, {**EDGE_FIELDS, "members": 1})
        return found

    async def containers(self, tenant_id: str, ids: Collection[str]) -> list[ContainerEdges]:
        found = []
        fields = {**EDGE_FIELDS, "members": 1, "attributes": 1}
        for chunk in _chunks(ids):
            keys = [object_key(tenant_id, t, i) for i in chunk for t in CONTAINER_TYPES]
            found += await self._find_keys(keys, fields)
        return found

    async def holders(self, tenant_id: str, ids: Collection[str]) -> list[ContainerEdges]:
        found: dict[tuple[str, str], dict[str, MemberType]] = {}
        kinds: dict[tuple[str, str], ContainerEdges] = {}
        for chunk in _chunks(ids):
            # Only the matching ids come back, never a whale group's whole member list.
            pipeline: list[dict[str, Any]] = [
                {"$match": {"tenant_id": tenant_id, "members": {"$in": chunk},
                            "object_type": {"$in": list(CONTAINER_TYPES)}, "deleted": False}},
                {"$project": {**EDGE_FIELDS, "_id": 0,
                              "members": {"$setIntersection": ["$members", chunk]}}},
            ]  # fmt: skip
            async for doc in await self._inventory.aggregate(pipeline):
                edges = _edges(doc)
                key = (edges.type, edges.id)
                found.setdefault(key, {}).update(edges.members)
                kinds[key] = edges
        return [
            ContainerEdges(kinds[key].type, kinds[key].id, members)
            for key, members in sorted(found.items())
        ]

    async def role_templates(self, tenant_id: str) -> dict[str, str | None]:
        query = {"tenant_id": tenant_id, "object_type": "directoryRole", "deleted": False}
        fields = {"object_type": 1, "object_id": 1, f"attributes.{ROLE_TEMPLATE}": 1}
        found = self._inventory.find(query, fields)
        return {e.id: e.role_template_id async for doc in found for e in [_edges(doc, [])]}

    async def roles(self, tenant_id: str) -> list[ContainerEdges]:
        query = {"tenant_id": tenant_id, "object_type": "directoryRole", "deleted": False}
        fields = {**EDGE_FIELDS, "members": 1, "attributes": 1}
        return [_edges(doc) async for doc in self._inventory.find(query, fields)]

    async def ancestors(
        self, tenant_id: str, group_ids: Collection[str]
    ) -> dict[str, dict[str, Path]]:
        found = {}
        for chunk in _chunks(group_ids):
            keys = [f"{tenant_id}:{g}" for g in chunk]
            async for doc in self._closure.find({"_id": {"$in": keys}}):
                found[doc["group_id"]] = _up(doc)
        return found

    async def nested_under(
        self, tenant_id: str, container_ids: Collection[str]
    ) -> dict[str, dict[str, Path]]:
        query = {"tenant_id": tenant_id, "up.id": {"$in": sorted(container_ids)}}
        return {doc["group_id"]: _up(doc) async for doc in self._closure.find(query)}

    async def every_container(self, tenant_id: str) -> AsyncIterator[ContainerEdges]:
        query = {
            "tenant_id": tenant_id,
            "object_type": {"$in": list(CONTAINER_TYPES)},
            "deleted": False,
        }
        fields = {**EDGE_FIELDS, "members": 1, f"attributes.{ROLE_TEMPLATE}": 1}
        # Small batches: a whale group's member list is a few hundred kB on its own.
        async for doc in self._inventory.find(query, fields, batch_size=200):
            yield _edges(doc)

    async def names(self, tenant_id: str, ids: Collection[str]) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        types = {*MEMBER_OBJECT_TYPES, *CONTAINER_TYPES}
        fields = {"object_type": 1, "object_id": 1, "attributes.displayName": 1}
        for chunk in _chunks(ids):
            keys = [object_key(tenant_id, t, i) for i in chunk for t in sorted(types)]
            async for doc in self._inventory.find({"_id": {"$in": keys}}, fields):
                name = (doc.get("attributes") or {}).get("displayName")
                found[doc["object_id"]] = (
                    doc["object_type"],
                    name if isinstance(name, str) else "",
                )
        return found

    # -- writing (inside the commit's transaction) --------------------------------------------

    async def write(
        self,
        tenant_id: str,
        update: ClosureUpdate,
        now: datetime,
        session: AsyncClientSession,
    ) -> None:
        if update.rebuilt:
            await self._closure.delete_many({"tenant_id": tenant_id}, session=session)
        ops: list[Any] = []
        for group, up in sorted(update.ancestors.items()):
            if up:
                doc = closure_document(tenant_id, group, dict(up), update.roles)
                ops.append(ReplaceOne({"_id": doc["_id"]}, doc, upsert=True))
            elif not update.rebuilt:
                ops.append(DeleteOne({"_id": f"{tenant_id}:{group}"}))
        if ops:
            await self._closure.bulk_write(ops, ordered=False, session=session)
        if update.rebuilt:
            await self._state.replace_one(
                {"_id": tenant_id},
                {"_id": tenant_id, "tenant_id": tenant_id, "built_at": now},
                upsert=True,
                session=session,
            )

    async def purge(self, tenant_id: str) -> dict[str, int]:
        removed = await self._closure.delete_many({"tenant_id": tenant_id})
        state = await self._state.delete_many({"tenant_id": tenant_id})
        return {
            "effective_ancestors": removed.deleted_count,
            "effective_state": state.deleted_count,
        }
