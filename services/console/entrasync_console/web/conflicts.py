"""A Tenant Configuration form saved over a newer version: what changed, and the edits on top.

The form carries the values it was loaded with (`base_*`), so after a version conflict the
console can tell the user's own edits from what someone (or the first sync) changed meanwhile,
and offer the stored settings with only the user's edits applied on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from entrasync_console.core.object_types import in_sync_order, types_shown

FIELDS = {
    "profile_id": "Credential Profile",
    "enabled": "Enabled",
    "full_scan_next": "Perform a full scan on next run",
    "near_real_time": "Near real time",
    "object_types": "Object types",
}
SWITCHES = {
    "enabled": ("Disabled", "Enabled"),
    "full_scan_next": ("off", "on"),
    "near_real_time": ("off", "on"),
}


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    was: str
    now: str


@dataclass(frozen=True)
class Conflict:
    """Changes made elsewhere since the form was loaded, and the user's own edits."""

    theirs: tuple[Change, ...]
    yours: tuple[Change, ...]


def base_values(form: FormData) -> dict[str, Any] | None:
    """The values the form was loaded with; None for a form that does not say (an old tab).

    A tab opened before the console offered the object types says nothing of them (nor posts
    them): its base has no `object_types`."""
    if any(f"base_{name}" not in form for name in FIELDS if name != "object_types"):
        return None
    base: dict[str, Any] = {
        name: str(form.get(f"base_{name}") or "") for name in FIELDS if f"base_{name}" in form
    }
    for name in SWITCHES:
        base[name] = base[name] == "true"
    if "object_types" in base:
        base["object_types"] = in_sync_order(base["object_types"].split(","))
    return base


def comparable(field: str, value: Any) -> Any:
    """Types in sync order: the same choice stored in another order is no change."""
    return in_sync_order(value) if field == "object_types" else value


def edits(values: Mapping[str, Any], base: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields the user changed; every field when the form did not say what it started as."""
    return {k: v for k, v in values.items() if base is None or base.get(k) != comparable(k, v)}


def to_save(values: Mapping[str, Any], base: Mapping[str, Any] | None) -> dict[str, Any]:
    """The values a save sends: the object types only when the user changed them, so a tenant's
    types stored in another order are not rewritten by saving another field."""
    unchanged = base is not None and base.get("object_types") == values.get("object_types")
    return {k: v for k, v in values.items() if not (k == "object_types" and unchanged)}


def shown(field: str, value: Any, profiles: Mapping[str, str]) -> str:
    if field == "object_types":
        return types_shown(value)
    if field in SWITCHES:
        return SWITCHES[field][bool(value)]
    return profiles.get(str(value), "(missing profile)")


def describe(
    base: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    mine: Mapping[str, Any],
    profiles: Mapping[str, str],
) -> Conflict:
    """What changed elsewhere (base → current) and what the user changed (→ mine)."""

    def change(field: str, was: Any, now: Any) -> Change:
        before, after = shown(field, was, profiles), shown(field, now, profiles)
        return Change(field, FIELDS[field], before, after)

    theirs = tuple(
        change(f, base[f], current[f])
        for f in FIELDS
        if base is not None and f in base and base[f] != comparable(f, current[f])
    )
    yours = tuple(
        change(f, (base or current).get(f, current[f]), mine[f]) for f in FIELDS if f in mine
    )
    return Conflict(theirs, yours)
