"""docs/object-types.md stays true: its table names every object type with the syncer's delta
(or list) path, `$select`, least-privileged permission and containers as the code has them."""

from __future__ import annotations

from pathlib import Path

from entrasync_shared.subjects import (
    CONTAINER_TYPES,
    FULL_LIST_TYPES,
    GRAPH_PATHS,
    OBJECT_TYPES,
    READ_PERMISSIONS,
)
from entrasync_syncer.domain.plans import SELECTS

DOC = Path(__file__).resolve().parents[3] / "docs" / "object-types.md"


def table() -> dict[str, list[str]]:
    """The table's rows by type (cells without their backticks)."""
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 6:
            rows[cells[0]] = cells[1:]
    return rows


def test_the_doc_lists_every_type_in_sync_order() -> None:
    assert tuple(table()) == OBJECT_TYPES


def test_the_doc_names_each_types_path_select_permission_and_members() -> None:
    for object_type, (path, select, permission, _, members) in table().items():
        delta = "" if object_type in FULL_LIST_TYPES else "/delta"
        assert path == f"{GRAPH_PATHS[object_type]}{delta}", object_type  # type: ignore[index]
        assert select.split(",") == list(SELECTS[object_type]), object_type  # type: ignore[index]
        assert permission == READ_PERMISSIONS[object_type][0], object_type  # type: ignore[index]
        assert (members != "–") == (object_type in CONTAINER_TYPES), object_type
