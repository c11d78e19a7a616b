"""`FakeEffective`: the EffectiveReader port over a `FakeHistoryStore`'s objects, with the
stored closure in a dict (as `effective_ancestors` holds it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from typing import Any

from entrasync_history.domain.effective import Path
from entrasync_history.domain.effective_plan import (
    ClosureUpdate,
    ContainerEdges,
    container_edges,
    role_template,
)
from entrasync_history.domain.model import StoredObject
from entrasync_shared.subjects import CONTAINER_TYPES


def as_edges(obj: StoredObject, only: Collection[str] | None = None) -> ContainerEdges:
    members = container_edges(obj)
    if only is not None:
        members = {m: t for m, t in members.items() if m in only}
    name = obj.attributes.get("displayName")
    return ContainerEdges(
        obj.object_type,  # type: ignore[arg-type]
        obj.object_id,
        members,
        role_template(obj),
        name if isinstance(name, str) else None,
    )


class FakeEffective:
    def __init__(self, store: Any) -> None:
        self._store = store
        self.closure: dict[str, dict[str, Path]] = {}
        self.built: set[str] = set()
        self.reads = 0  # containers read (a first computation reads them all)

    def _live(self) -> list[StoredObject]:
        objects = self._store.objects.values()
        return [o for o in objects if o.object_type in CONTAINER_TYPES and o.live]

    def _of(self, object_type: str) -> list[StoredObject]:
        return [o for o in self._live() if o.object_type == object_type]

    async def closure_built(self, tenant_id: str) -> bool:
        return tenant_id in self.built

    async def groups(self, tenant_id: str, ids: Collection[str]) -> list[ContainerEdges]:
        return [
            as_edges(o) for o in self._live() if o.object_type == "group" and o.object_id in ids
        ]

    async def containers(self, tenant_id: str, ids: Collection[str]) -> list[ContainerEdges]:
        return [as_edges(o) for o in self._live() if o.object_id in ids]

    async def holders(self, tenant_id: str, ids: Collection[str]) -> list[ContainerEdges]:
        return [as_edges(o, ids) for o in self._live() if o.members & set(ids)]

    async def role_templates(self, tenant_id: str) -> dict[str, str | None]:
        return {
            o.object_id: role_template(o) for o in self._live() if o.object_type == "directoryRole"
        }

    async def roles(self, tenant_id: str) -> list[ContainerEdges]:
        return [as_edges(o) for o in self._of("directoryRole")]

    async def ancestors(
        self, tenant_id: str, group_ids: Collection[str]
    ) -> dict[str, dict[str, Path]]:
        return {g: dict(self.closure[g]) for g in group_ids if g in self.closure}

    async def nested_under(
        self, tenant_id: str, container_ids: Collection[str]
    ) -> dict[str, dict[str, Path]]:
        wanted = set(container_ids)
        return {g: dict(up) for g, up in self.closure.items() if wanted & up.keys()}

    async def every_container(self, tenant_id: str) -> AsyncIterator[ContainerEdges]:
        for obj in sorted(self._live(), key=lambda o: (o.object_type, o.object_id)):
            self.reads += 1
            yield as_edges(obj)

    async def names(self, tenant_id: str, ids: Collection[str]) -> dict[str, tuple[str, str]]:
        found = {}
        for obj in self._store.objects.values():
            if obj.object_id in ids:
                name = obj.attributes.get("displayName")
                found[obj.object_id] = (obj.object_type, name if isinstance(name, str) else "")
        return found

    def write(self, tenant_id: str, update: ClosureUpdate) -> None:
        if update.rebuilt:
            self.closure.clear()
            self.built.add(tenant_id)
        for group, up in update.ancestors.items():
            if up:
                self.closure[group] = dict(up)
            else:
                self.closure.pop(group, None)
