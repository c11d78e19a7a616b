"""How `entrasync-ctl` shows things: rich tables and one-line change events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from entrasync_shared.messages import (
    ConnectionTestResult,
    CredentialProfile,
    HistoryRow,
    Page,
    SubscriptionRecord,
    Tenant,
)
from rich import box
from rich.table import Table
from rich.text import Text

from entrasync_console.core.effective import EffectiveMembershipsView, EffectiveMembersView
from entrasync_console.core.ops import RunProgress
from entrasync_console.core.privileged import PrivilegedAccess
from entrasync_console.core.role_changes import RoleChanges

STATUS_STYLE = {"Succeeded": "green", "Failed": "red", "Cancelled": "red", "Running": "cyan"}


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def short_when(value: datetime) -> str:
    return value.strftime("%m-%d %H:%M")


def status_text(status: str | None) -> Text:
    return Text(status or "never", style=STATUS_STYLE.get(status or "", "dim"))


def _table(title: str) -> Table:
    return Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)


def _id_column(table: Table, header: str = "Id") -> None:
    """Ids are copied into other commands: last, on one line, never cut (32 hex chars)."""
    table.add_column(header, no_wrap=True, min_width=32, overflow="ignore")


def _text_column(table: Table, header: str, **options: Any) -> None:
    table.add_column(header, overflow="fold", **options)


def profiles_table(profiles: Sequence[CredentialProfile], wide: bool = False) -> Table:
    table = _table("Credential profiles")
    for header in ("Name", "Credential", "Expires", *(("Client ID",) if wide else ())):
        _text_column(table, header)
    _id_column(table)
    for p in profiles:
        expiry = str(p.secret_expires_at or "—")
        if p.expired:
            expiry += " (expired)"
        elif p.expires_soon:
            expiry += " (expires soon)"
        extra = (p.client_id,) if wide else ()
        table.add_row(p.name, p.kind, expiry, *extra, p.id)
    return table


def tenants_table(tenants: Sequence[Tenant], wide: bool = False) -> Table:
    table = _table("Entra ID Sync")
    headers = ("Name", "Tenant", "Cloud", "Enabled", "Profile") if wide else ("Name", "On")
    for header in headers:
        _text_column(table, header)
    for header in ("Last Sync", "Status"):
        table.add_column(header, no_wrap=True)
    _id_column(table)
    for t in tenants:
        last = getattr(t, "last_sync", None)
        enabled = "✓" if t.enabled else "✗"
        profile = getattr(t, "profile_name", None) or t.profile_id
        cells = (t.name, t.tenant, t.cloud, enabled, profile) if wide else (t.name, enabled)
        table.add_row(
            *cells,
            (when if wide else short_when)(last.last_sync_started_at) if last else "—",
            status_text(last.last_sync_status if last else None),
            t.id,
        )
    return table


def subscriptions_table(records: Sequence[SubscriptionRecord], wide: bool = False) -> Table:
    table = _table("Change notifications")
    for header in ("Type", "State", "Expires", "Error"):
        _text_column(table, header)
    if wide:
        _id_column(table)
    for r in records:
        cells = (r.resource, r.state, when(r.expires_at), r.error or "")
        table.add_row(*cells, *((r.subscription_id,) if wide else ()))
    return table


def took(row: HistoryRow) -> str:
    if row.finished_at is None:
        return "…"
    return f"{(row.finished_at - row.started_at).total_seconds():.1f}s"


def history_table(page: Page[HistoryRow], wide: bool = False) -> Table:
    last = max(1, -(-page.total // page.page_size))
    table = _table(f"Sync History — page {page.page} of {last} ({page.total} rows)")
    times = ("Start Time", "End Time") if wide else ("Start Time", "Took")
    for header in (*times, "Type", "Mode"):
        table.add_column(header, no_wrap=True)
    counts = (
        ("Total", "Changed", "Deleted", "Filtered") if wide else ("Total", "Chg", "Del", "Filt")
    )
    for header in counts:
        table.add_column(header, justify="right")
    table.add_column("Status", no_wrap=True)
    if wide:
        _text_column(table, "Error")
        _id_column(table, "Run Id")
        table.add_column("Attempts", justify="right")
    for r in page.items:
        end = when(r.finished_at) if wide else took(r)
        mode = f"{r.mode}/{r.reason}" if wide else r.mode
        cells = [when(r.started_at), end, r.object_type, mode, str(r.total), str(r.changed)]
        cells += [str(r.deleted), str(r.filtered)]
        extra = (r.error or "", r.run_id, str(r.attempts)) if wide else ()
        table.add_row(*cells, status_text(r.status), *extra)
    return table


def progress_table(progress: RunProgress, wide: bool = False) -> Table:
    title = f"run {progress.run_id or '(waiting for the run in progress)'}: {progress.status}"
    table = _table(title)
    _text_column(table, "Type")
    _text_column(table, "Status")
    for header in ("Objects", "Pages", "Rate/s", "Changed", "Deleted", "Filtered"):
        table.add_column(header, justify="right")
    for r in progress.rows:
        objects = r.total if r.finished_at else r.received
        table.add_row(
            r.object_type,
            status_text(r.status),
            str(objects),
            str(r.pages),
            progress.rate(r),
            str(r.changed),
            str(r.deleted),
            str(r.filtered),
        )
    return table


def test_result(result: ConnectionTestResult, wide: bool = False) -> Table:
    verdict = "[green]succeeded[/green]" if result.ok else "[red]failed[/red]"
    table = Table(
        "Step", "Status", "ms", "Message", title=f"Test Connection {verdict}: {result.message}"
    )
    for step in result.steps:
        name = f"{step.name} ({step.object_type})" if step.object_type else step.name
        style = {"ok": "green", "failed": "red", "warning": "yellow"}.get(step.status, "dim")
        table.add_row(
            name, Text(step.status, style=style), str(step.duration_ms), step.message or ""
        )
    return table


def status_table(result: dict[str, Any], wide: bool = False) -> Table:
    table = Table(
        "Service",
        "Healthy",
        "Instances",
        "Requests",
        "Errors",
        "Details",
        title="entrasync services",
    )
    instances: dict[str, list[dict[str, Any]]] = {}
    for item in result["instances"]:
        instances.setdefault(str(item.get("name", "?")), []).append(item)
    for service, health in result["health"].items():
        found = [v for k, v in instances.items() if service in k]
        flat = [i for group in found for i in group]
        requests = sum(e.get("num_requests", 0) for i in flat for e in i.get("endpoints") or [])
        errors = sum(e.get("num_errors", 0) for i in flat for e in i.get("endpoints") or [])
        details = health.get("error") or ", ".join(
            f"{k}={v}" for k, v in (health.get("details") or {}).items()
        )
        table.add_row(
            service,
            Text("yes", style="green") if health.get("ok") else Text("no", style="red"),
            str(len(flat)) if flat else "—",
            str(requests) if flat else "—",
            str(errors) if flat else "—",
            details,
        )
    return table


def event_line(event: dict[str, Any]) -> Text:
    data = event.get("data") or {}
    kind = str(event.get("type", "")).removeprefix("io.entrasync.directory.")
    line = Text()
    line.append(str(event.get("time", ""))[:19] + " ", style="dim")
    line.append(f"{kind:<24}", style="bold")
    line.append(f" {data.get('tenant_id', '?')} {data.get('object_id', '?')}")
    detail = data.get("attributes") or data.get("changed") or {}
    if detail:
        shown = ", ".join(f"{k}={v!r}" for k, v in list(detail.items())[:4])
        line.append(f"  {shown}", style="cyan")
    if data.get("added") or data.get("removed"):
        line.append(f"  +{len(data.get('added') or [])} -{len(data.get('removed') or [])} members")
    return line


def privileged_table(access: PrivilegedAccess, wide: bool = False) -> Table:
    """Each role's holders: the path reads from the role down to the member."""
    title = f"Privileged access — {len(access.roles)} directory roles"
    table = _table(title + (f" (matching {access.search!r})" if access.search else ""))
    for header in ("Role", "Member", "Type", "How"):
        _text_column(table, header)
    _text_column(table, "Path")
    if wide:
        _id_column(table, "Member Id")
    for line in access.members:
        how = "direct" if line.direct else "via group"
        cells = (line.role_name, line.member_name, line.member_type, how, line.path_text)
        table.add_row(*cells, *((line.member_id,) if wide else ()))
    return table


def role_changes_table(changes: RoleChanges, wide: bool = False) -> Table:
    title = f"Role changes since {when(changes.since)}, newest first"
    if not changes.complete:
        title += " (older ones not read)"
    table = _table(title)
    table.add_column("Time", no_wrap=True)
    for header in ("Change", "Role", "Principal", "Type", "Path"):
        _text_column(table, header)
    if wide:
        _id_column(table, "Run Id")
    for c in changes.items:
        change = Text(c.change, style="green" if c.change == "added" else "red")
        cells = (c.role_name, c.principal_name, c.principal_type, c.path_text)
        table.add_row(when(c.time), change, *cells, *((c.run_id,) if wide else ()))
    return table


def _how(direct: bool) -> str:
    return "direct" if direct else "via group"


def effective_members_table(view: EffectiveMembersView, wide: bool = False) -> Table:
    """Each member on one line; the path reads from the container down to the member."""
    box = view.container
    title = f"Effective members of {box.display_name or box.id} ({box.type}): "
    title += f"{view.total} in all, {view.direct} direct"
    if view.total > view.page_size:
        last = -(-view.total // view.page_size)
        title += f" — page {view.page} of {last}"
    table = _table(title)
    for header in ("Member", "Type", "How", "Path"):
        _text_column(table, header)
    if wide:
        _id_column(table, "Member Id")
    for line in view.items:
        cells = (line.member_name, line.member_type, _how(line.direct), line.path_text)
        table.add_row(*cells, *((line.member_id,) if wide else ()))
    return table


def effective_memberships_table(view: EffectiveMembershipsView, wide: bool = False) -> Table:
    """Each group, role or unit on one line; a role's template id shows with --wide."""
    who = f"{view.principal_name} ({view.principal_type})"
    table = _table(f"Effective memberships of {who}: {len(view.items)}")
    for header in ("Container", "Type", "How", "Path"):
        _text_column(table, header)
    if wide:
        _id_column(table, "Container Id")
        _text_column(table, "Role Template Id", no_wrap=True)
    for line in view.items:
        cells = (line.container_name, line.container_type, _how(line.direct), line.path_text)
        extra = (line.container_id, line.role_template_id or "") if wide else ()
        table.add_row(*cells, *extra)
    return table
