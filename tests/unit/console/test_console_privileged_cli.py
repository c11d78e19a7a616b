"""`entrasync-ctl privileged`: each role holder on one line with the path that gives the role,
and the role changes newest first, in an 80-column terminal."""

from __future__ import annotations

import io
from datetime import timedelta

from console_fakes import NOW
from entrasync_console.cli.render import privileged_table, role_changes_table
from entrasync_console.core import privileged, role_changes
from rich.console import Console
from test_console_privileged import assigned, roles


def rendered(table: object, width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(table)
    return console.export_text()


def test_the_table_shows_each_role_holder_with_the_path_that_gives_the_role() -> None:
    text = rendered(privileged_table(privileged.access(roles())), width=160)
    assert "Privileged access — 2 directory roles" in text
    assert "Global Administrator ← Tier0 Admins ← alice" in text
    alice = next(line for line in text.splitlines() if "← alice" in line)
    assert "via group" in alice and "user" in alice
    assert all(
        len(line) <= 80
        for line in rendered(privileged_table(privileged.access(roles()))).splitlines()
    )


def test_role_changes_say_when_older_ones_were_not_read() -> None:
    items = role_changes.role_changes(
        [assigned(NOW, "r1", ["u-bob"])], privileged.known_names(roles())
    )
    recent = role_changes.RoleChanges(
        tenant_id="t1", since=NOW - timedelta(days=30), items=tuple(items), complete=False
    )
    text = rendered(role_changes_table(recent), width=160)
    assert "(older ones not read)" in text
    assert "added" in text and "Global Administrator ← bob" in text
