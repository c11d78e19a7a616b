"""Implements `DeletionWatch` in memory: the tenants config announced as deleted (fed by
`entrypoints.deletions`)."""

from __future__ import annotations


class DeletedTenants:
    """The tenant ids config announced as deleted (a few short strings per deletion ever)."""

    def __init__(self) -> None:
        self._ids: set[str] = set()

    def deleted(self, tenant_id: str) -> bool:
        return tenant_id in self._ids

    def add(self, tenant_id: str) -> None:
        self._ids.add(tenant_id)
