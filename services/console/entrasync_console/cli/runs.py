"""`entrasync-ctl` test-connection, sync now, history, events tail and status."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from entrasync_shared.catalog import ConfigApi, HistoryApi
from entrasync_shared.messages import (
    ConnectionTest,
    HistoryExportRequest,
    HistoryRunsQuery,
    TenantTest,
)
from entrasync_shared.natsutil import ApiCallError
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES, OBJECT_TYPES, ObjectType
from rich.live import Live

from entrasync_console.cli.common import (
    Context,
    TypesOption,
    app,
    chosen_types,
    err,
    events_app,
    out,
    plain,
    sync_app,
)
from entrasync_console.cli.render import (
    event_line,
    history_table,
    progress_table,
    status_table,
    test_result,
)
from entrasync_console.core import ops, privileged
from entrasync_console.core.privileged import PRIVILEGED_SEARCH
from entrasync_console.core.role_changes import PrivilegedFilter
from entrasync_console.ports import Services

# -- test connection, sync, history -----------------------------------------------------------


@app.command("test-connection")
def test_connection(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="A saved tenant (id/name), or a domain/GUID")],
    profile: Annotated[
        str | None, typer.Option(help="Test unsaved input with this profile (id or name)")
    ] = None,
    cloud: Annotated[str, typer.Option(help="Cloud of unsaved input")] = "global",
    types: TypesOption = None,
) -> None:
    """Test Connection of a saved tenant (its object types), or of unsaved input with
    --profile (and --types: users, groups and devices by default)."""
    c: Context = ctx.obj
    object_types = chosen_types(types)

    async def work(s: Services, _: Any) -> Any:
        if profile is None:
            saved = await ops.find_tenant(s, tenant)
            return await s.call(ConfigApi.tenant_test, TenantTest(tenant_id=saved.id))
        found = await ops.find_profile(s, profile)
        request = ConnectionTest(
            tenant=tenant,
            cloud=cloud,
            profile_id=found.id,
            object_types=object_types or DEFAULT_OBJECT_TYPES,
        )
        return await s.call(ConfigApi.connection_test, request)

    result = c.run(work)
    c.emit(result, test_result)
    raise typer.Exit(0 if result.ok else 1)


@sync_app.command("now")
def sync_now(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant id, name or domain")],
    wait: Annotated[bool, typer.Option(help="Follow the run until it is recorded")] = False,
    wait_timeout: Annotated[float, typer.Option(help="Seconds to follow the run")] = 600.0,
) -> None:
    """Sync a tenant now; --wait follows the run per object type."""
    c: Context = ctx.obj

    async def work(s: Services, _: Any) -> Any:
        found = await ops.find_tenant(s, tenant)
        accepted = await ops.sync_now(s, found.id)
        if not wait:
            return accepted
        # Transient: the live display is erased at the end and the final table printed once.
        live = Live(progress_table(ops.RunProgress(accepted.run_id)), console=err, transient=True)
        with live:
            return await ops.follow_run(
                s, found.id, accepted, lambda p: live.update(progress_table(p)), wait_timeout
            )

    result = c.run(work)
    if not wait:
        c.emit(
            result,
            lambda a, _: f"sync {a.status}: run {a.run_id or '(after ' + str(a.after_run) + ')'}",
        )
        return
    c.emit(
        {"run_id": result.run_id, "status": result.status, "rows": plain(result.rows)},
        lambda _, wide: progress_table(result, wide),
    )
    raise typer.Exit(0 if result.status == "Succeeded" else 1)


@app.command("history")
def history(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant id, name or domain")],
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option(help="50, 100 or 1000")] = 50,
    search: Annotated[str, typer.Option(help="Keep rows containing this text")] = "",
    csv: Annotated[
        str | None, typer.Option(help="Write every matching row to this CSV file ('-': stdout)")
    ] = None,
    privileged_only: Annotated[
        bool,
        typer.Option("--privileged", help="Only the directory roles' rows (instead of --search)"),
    ] = False,
) -> None:
    """Show a page of Sync History, or write every row to --csv FILE."""
    c: Context = ctx.obj
    search = PRIVILEGED_SEARCH if privileged_only else search

    async def table(s: Services, _: Any) -> Any:
        found = await ops.find_tenant(s, tenant)
        query = HistoryRunsQuery(tenant_id=found.id, page=page, page_size=page_size, search=search)
        return await s.call(HistoryApi.runs_list, query)

    async def export(s: Services, _: Any) -> int:
        assert csv is not None
        found = await ops.find_tenant(s, tenant)
        rows, after = 0, None
        with _csv_target(csv) as file:
            while True:
                request = HistoryExportRequest(tenant_id=found.id, search=search, after=after)
                chunk = await s.call(HistoryApi.runs_export, request)
                file.write(chunk.csv)
                rows += chunk.rows
                if chunk.next is None:
                    return rows
                after = chunk.next

    if csv is not None:
        written = c.run(export)
        if csv != "-":  # on stdout the CSV is the whole output; the count goes to stderr
            c.emit({"file": csv, "rows": written}, lambda v, _: f"wrote {v['rows']} rows to {csv}")
        else:
            err.print(f"wrote {written} rows")
        return
    c.emit(c.run(table), history_table)


# -- events, status ---------------------------------------------------------------------------


@events_app.command("tail")
def events_tail(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant (id, name, domain or directory GUID)")
    ] = None,
    object_type: Annotated[
        ObjectType | None, typer.Option("--type", help=f"Only one of {', '.join(OBJECT_TYPES)}")
    ] = None,
    from_start: Annotated[bool, typer.Option(help="Replay stored events first")] = False,
    count: Annotated[int, typer.Option(help="Stop after this many events (0: never)")] = 0,
    privileged_only: Annotated[
        bool,
        typer.Option(
            "--privileged",
            help="Only directory roles, roles gained or lost, and events about a role's holders "
            "or the groups that give a role",
        ),
    ] = False,
) -> None:
    """Print public change events as they arrive."""
    c: Context = ctx.obj

    async def work(s: Services, nc: Any) -> int:
        seen = 0
        tenant_id = (await ops.find_tenant(s, tenant)).id if tenant else None
        events = ops.tail_events(nc, c.names, tenant_id, object_type, from_start)
        only = PrivilegedFilter() if privileged_only else None
        async with contextlib.aclosing(events):  # unsubscribe before the connection drains
            async for event in events:
                if only is not None and not await _privileged(s, only, event):
                    continue
                seen += 1
                if c.as_json:
                    print(json.dumps(event), flush=True)
                else:
                    out.print(event_line(event))
                if count and seen >= count:
                    break
        return seen

    try:
        c.run(work)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


async def _privileged(services: Services, only: PrivilegedFilter, event: dict[str, Any]) -> bool:
    """Whether `only` keeps `event`, having asked history who holds roles in its tenant once."""
    data = event.get("data")
    tenant_id = str(data.get("tenant_id", "")) if isinstance(data, dict) else ""
    if tenant_id and not only.knows(tenant_id):
        only.know(await privileged.roles_of(services, tenant_id))
    return only.keeps(event)


@contextlib.contextmanager
def _csv_target(target: str) -> Iterator[TextIO]:
    if target == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with Path(target).open("w", encoding="utf-8", newline="") as file:
        yield file


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Services found through the NATS micro protocol, with their stats and health."""
    c: Context = ctx.obj

    async def work(s: Services, nc: Any) -> Any:
        instances = await ops.discover(nc, c.names)
        health = {}
        for service in ops.HEALTH:
            try:
                health[service] = (await ops.health(s, service)).model_dump(mode="json")
            except ApiCallError as error:
                health[service] = {"service": service, "ok": False, "error": error.error.message}
        return {"instances": instances, "health": health}

    result = c.run(work)
    c.emit(result, status_table)
    raise typer.Exit(0 if all(h.get("ok") for h in result["health"].values()) else 1)
