"""Batches of directory mutations: every operation is checked before any is applied.

Checking runs the whole batch against a shadow of the lifecycle and membership facts it
touches, so a refused batch changes nothing; then the batch is applied in order.
`"$N"` in an id field stands for the id operation N of the same batch produced.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from entrasync_sim.directory import (
    DirectoryError,
    Lifecycle,
    TenantDirectory,
    check_member_type,
    check_mutable,
    parse_id,
)
from entrasync_sim.schema import MEMBER_KINDS, PROPERTIES, Kind, parse_kind, soft_deletable

OPERATIONS = ("create", "update", "soft_delete", "hard_delete", "restore")
MEMBER_OPERATIONS = ("add_member", "remove_member")
_SINGULAR = {
    "user": "users",
    "group": "groups",
    "device": "devices",
    "servicePrincipal": "servicePrincipals",
    "orgContact": "contacts",
    "contact": "contacts",
    "application": "applications",
    "directoryRole": "directoryRoles",
    "administrativeUnit": "administrativeUnits",
    "roleEligibility": "roleEligibilitySchedules",
    "roleEligibilitySchedule": "roleEligibilitySchedules",
}


class BatchError(Exception):
    """Operation `index` of a batch is refused; nothing was applied."""

    def __init__(self, index: int, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.index, self.status, self.code, self.message = index, status, code, message


def kind_of(value: Any) -> Kind | None:
    """`user`/`users` → `users` (and so on); None for anything else."""
    if not isinstance(value, str):
        return None
    return parse_kind(_SINGULAR.get(value, value))


@dataclass
class _Shadow:
    """Lifecycle and membership facts as the batch would leave them."""

    directory: TenantDirectory
    lifecycles: dict[str, tuple[Kind, Lifecycle]] = field(default_factory=dict)
    edges: dict[tuple[str, str], bool] = field(default_factory=dict)
    props: dict[str, dict[str, Any]] = field(default_factory=dict)

    def props_of(self, object_id: str) -> dict[str, Any]:
        """Properties as the batch would leave them (a soft delete's fate depends on them)."""
        if object_id not in self.props:
            obj = self.directory.find_any(object_id)
            self.props[object_id] = dict(obj.props) if obj is not None else {}
        return self.props[object_id]

    def state(self, object_id: str) -> tuple[Kind, Lifecycle] | None:
        if object_id in self.lifecycles:
            return self.lifecycles[object_id]
        obj = self.directory.find_any(object_id)
        return None if obj is None else (obj.kind, obj.lifecycle)

    def require(self, kind: Kind, object_id: str, *wanted: Lifecycle) -> None:
        found = self.state(object_id)
        if found is None or found[0] != kind or found[1] is Lifecycle.HARD_DELETED:
            raise DirectoryError(404, "notFound", f"{kind} {object_id} does not exist.")
        if found[1] not in wanted:
            raise DirectoryError(409, "conflict", f"{kind} {object_id} is {found[1].value}.")

    def require_container(self, object_id: str) -> Kind:
        """The kind of the live group, role or unit `object_id` as the batch would leave it."""
        found = self.state(object_id)
        kind = found[0] if found is not None and found[0] in MEMBER_KINDS else "groups"
        self.require(kind, object_id, Lifecycle.LIVE)
        return kind

    def is_member(self, group_id: str, member_id: str) -> bool:
        found = self.state(member_id)
        if found is None or found[1] is Lifecycle.HARD_DELETED:
            return False
        if (group_id, member_id) in self.edges:
            return self.edges[(group_id, member_id)]
        return member_id in self.directory.members.get(group_id, {})


def _text(op: dict[str, Any], name: str, results: list[str]) -> str:
    value = op.get(name)
    if not isinstance(value, str) or not value:
        raise DirectoryError(400, "badRequest", f"'{name}' must be a non-empty string.")
    if value.startswith("$"):
        index = value[1:]
        if not index.isdigit() or int(index) >= len(results):
            raise DirectoryError(400, "badRequest", f"'{value}' names no earlier operation.")
        return results[int(index)]
    return parse_id(value)


def _attrs(op: dict[str, Any], kind: Kind) -> dict[str, Any]:
    attrs = op.get("attrs", {})
    if not isinstance(attrs, dict):
        raise DirectoryError(400, "badRequest", "'attrs' must be an object.")
    unknown = sorted(set(attrs) - PROPERTIES[kind])
    if unknown:
        raise DirectoryError(400, "badRequest", f"Unknown {kind} properties: {unknown}.")
    return attrs


def _plan_one(shadow: _Shadow, op: Any, results: list[str], now: str) -> dict[str, Any]:
    """Check one operation against the shadow, update it, and return the resolved operation."""
    if not isinstance(op, dict):
        raise DirectoryError(400, "badRequest", "Each operation must be an object.")
    name = op.get("op")
    if name in MEMBER_OPERATIONS:
        group_id, member_id = _text(op, "group_id", results), _text(op, "member_id", results)
        container = shadow.require_container(group_id)
        if name == "add_member":
            member = shadow.state(member_id)
            if member is None or member[1] is not Lifecycle.LIVE:
                raise DirectoryError(404, "notFound", f"Member {member_id} does not exist.")
            holder = (container, shadow.props_of(group_id))
            props = shadow.props_of(member_id)
            check_member_type(holder, member[0], props, member_id == group_id)
        elif not shadow.is_member(group_id, member_id):
            raise DirectoryError(404, "notFound", f"{member_id} is not a member.")
        shadow.edges[(group_id, member_id)] = name == "add_member"
        return {"op": name, "group_id": group_id, "member_id": member_id, "id": group_id}
    if name not in OPERATIONS:
        raise DirectoryError(400, "badRequest", f"Unknown operation {name!r}.")
    kind = kind_of(op.get("type"))
    if kind is None:
        raise DirectoryError(
            400,
            "badRequest",
            "'type' must be user, group, device, servicePrincipal, orgContact, application, "
            "directoryRole, administrativeUnit or roleEligibility.",
        )
    if name == "create":
        attrs = dict(_attrs(op, kind))
        if "createdDateTime" in PROPERTIES[kind]:
            attrs.setdefault("createdDateTime", now)
        object_id = _text(op, "id", results) if "id" in op else str(uuid.uuid4())
        if shadow.state(object_id) is not None:
            raise DirectoryError(409, "conflict", f"An object with id {object_id} already exists.")
        shadow.lifecycles[object_id] = (kind, Lifecycle.LIVE)
        shadow.props[object_id] = dict(attrs)
        return {"op": name, "kind": kind, "id": object_id, "attrs": attrs}
    object_id = _text(op, "id", results)
    resolved: dict[str, Any] = {"op": name, "kind": kind, "id": object_id}
    if name == "update":
        resolved["attrs"] = _attrs(op, kind)
        check_mutable(resolved["attrs"])
        shadow.require(kind, object_id, Lifecycle.LIVE)
        shadow.props_of(object_id).update(resolved["attrs"])
    elif name == "soft_delete":
        shadow.require(kind, object_id, Lifecycle.LIVE)
        restorable = soft_deletable(kind, shadow.props_of(object_id))
        gone = Lifecycle.SOFT_DELETED if restorable else Lifecycle.HARD_DELETED
        shadow.lifecycles[object_id] = (kind, gone)
    elif name == "hard_delete":
        shadow.require(kind, object_id, Lifecycle.LIVE, Lifecycle.SOFT_DELETED)
        shadow.lifecycles[object_id] = (kind, Lifecycle.HARD_DELETED)
    else:
        shadow.require(kind, object_id, Lifecycle.SOFT_DELETED)
        shadow.lifecycles[object_id] = (kind, Lifecycle.LIVE)
    return resolved


def apply_batch(directory: TenantDirectory, operations: Any, now: str) -> list[str]:
    """Check every operation, then apply them in order; the id each one touched.

    `now` (Graph's timestamp format) becomes `createdDateTime` of new users and groups.
    """
    if not isinstance(operations, list):
        raise BatchError(0, 400, "badRequest", "'operations' must be a list.")
    shadow = _Shadow(directory)
    plan: list[dict[str, Any]] = []
    results: list[str] = []
    for index, op in enumerate(operations):
        try:
            resolved = _plan_one(shadow, op, results, now)
        except DirectoryError as exc:
            raise BatchError(index, exc.status, exc.code, exc.message) from None
        plan.append(resolved)
        results.append(resolved["id"])
    for step in plan:
        _apply(directory, step)
    return results


def _apply(directory: TenantDirectory, step: dict[str, Any]) -> None:
    name = step["op"]
    if name == "add_member":
        directory.change_members(step["group_id"], [step["member_id"]], [])
    elif name == "remove_member":
        directory.change_members(step["group_id"], [], [step["member_id"]])
    elif name == "create":
        directory.create(step["kind"], step["attrs"], step["id"])
    elif name == "update":
        directory.update(step["kind"], step["id"], step["attrs"])
    elif name == "soft_delete":
        directory.delete(step["kind"], step["id"], hard=False)
    elif name == "hard_delete":
        directory.delete(step["kind"], step["id"], hard=True)
    else:
        directory.restore(step["kind"], step["id"])
