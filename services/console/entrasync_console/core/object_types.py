"""The object types a tenant may sync, as the console offers them: a label, the least-privileged
read permission each needs, and the `--types` text of the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from entrasync_shared.subjects import OBJECT_TYPE_NAMES, OBJECT_TYPES, READ_PERMISSIONS, ObjectType


@dataclass(frozen=True)
class TypeChoice:
    """One checkbox of Tenant Configuration's object types."""

    object_type: ObjectType
    label: str
    permission: str


def type_label(object_type: ObjectType) -> str:
    name = OBJECT_TYPE_NAMES[object_type]
    return name[:1].upper() + name[1:]


TYPE_CHOICES = tuple(TypeChoice(t, type_label(t), READ_PERMISSIONS[t][0]) for t in OBJECT_TYPES)
TYPES_HELP = "Comma-separated object types to sync: " + ", ".join(OBJECT_TYPES)


def in_sync_order(types: Iterable[str]) -> tuple[ObjectType, ...]:
    """The known types among `types`, each once, in the order tenants sync them."""
    wanted = set(types)
    return tuple(t for t in OBJECT_TYPES if t in wanted)


def types_shown(types: Iterable[ObjectType]) -> str:
    """`Users, Service principals`: how a choice of types reads on a page."""
    return ", ".join(type_label(t) for t in in_sync_order(types)) or "(none)"


def parse_types(text: str) -> tuple[ObjectType, ...]:
    """`user,group,servicePrincipal` (Graph's names, any case) as types in sync order.

    Raises ValueError naming an unknown type, or for no type at all.
    """
    known = {t.lower(): t for t in OBJECT_TYPES}
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if name.lower() not in known:
            raise ValueError(f"unknown object type {name!r}: choose from {', '.join(OBJECT_TYPES)}")
    if not names:
        raise ValueError(f"name at least one object type: {', '.join(OBJECT_TYPES)}")
    return in_sync_order(known[name.lower()] for name in names)
