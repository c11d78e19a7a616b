"""`entrasync-ctl privileged`: who holds each directory role of a tenant, with paths, and with
`--changes` the role changes of the last days (read from the events stream: a NATS user that may
read it, such as `reader`, `console` or `admin`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Group

from entrasync_console.adapters.events import JetStreamEvents
from entrasync_console.cli.common import Context, Output, app
from entrasync_console.cli.render import privileged_table, role_changes_table
from entrasync_console.core import ops, privileged, role_changes
from entrasync_console.ports import Services


@app.command("privileged")
def privileged_access(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant id, name, domain or directory GUID")],
    search: Annotated[str, typer.Option(help="Keep lines containing this text")] = "",
    changes: Annotated[
        bool, typer.Option("--changes", help="Also the role changes of the last --days days")
    ] = False,
    days: Annotated[
        int, typer.Option(min=1, max=role_changes.CHANGE_DAYS)
    ] = role_changes.CHANGE_DAYS,
) -> None:
    """Directory roles with their direct and effective members (role ← groups ← member)."""
    c: Context = ctx.obj

    async def work(s: Services, nc: Any) -> dict[str, Any]:
        found = await ops.find_tenant(s, tenant)
        roles = await privileged.roles_of(s, found.id)
        result: dict[str, Any] = {"access": privileged.access(roles, search)}
        if changes:
            events = JetStreamEvents(nc, c.names.events_stream)
            recent = await role_changes.recent_role_changes(
                events, c.names, found.id, privileged.known_names(roles), datetime.now(UTC), days
            )
            shown = tuple(role_changes.matching_changes(recent.items, search))
            result["changes"] = recent.model_copy(update={"items": shown})
        return result

    result = c.run(work)
    plain = {k: v.model_dump(mode="json") for k, v in result.items()}
    if c.output is Output.csv:  # one row per role holder
        c.emit(plain["access"]["members"], lambda _, wide: None)
        return
    c.emit(plain if changes else plain["access"], lambda _, wide: _tables(result, wide))


def _tables(result: dict[str, Any], wide: bool) -> Group:
    tables = [privileged_table(result["access"], wide)]
    if "changes" in result:
        tables.append(role_changes_table(result["changes"], wide))
    return Group(*tables)
