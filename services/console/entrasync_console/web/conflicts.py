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

FIELDS = {
    "profile_id": "Credential Profile",
    "enabled": "Enabled",
    "full_scan_next": "Perform a full scan on next run",
    "near_real_time": "Near real time",
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
    """The values the form was loaded with; None for a form that does not say (an old tab)."""
    if any(f"base_{name}" not in form for name in FIELDS):
        return None
    base: dict[str, Any] = {name: str(form.get(f"base_{name}") or "") for name in FIELDS}
    for name in SWITCHES:
        base[name] = base[name] == "true"
    return base


def edits(values: Mapping[str, Any], base: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields the user changed; every field when the form did not say what it started as."""
    return {k: v for k, v in values.items() if base is None or base.get(k) != v}


def shown(field: str, value: Any, profiles: Mapping[str, str]) -> str:
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
        change(f, base[f], current[f]) for f in FIELDS if base is not None and base[f] != current[f]
    )
    yours = tuple(
        change(f, base[f] if base is not None else current[f], mine[f]) for f in FIELDS if f in mine
    )
    return Conflict(theirs, yours)
