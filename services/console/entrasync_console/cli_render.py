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
    Tenant,
)
from rich.table import Table
from rich.text import Text

from entrasync_console.ops import RunProgress

STATUS_STYLE = {"Succeeded": "green", "Failed": "red", "Cancelled": "red", "Running": "cyan"}


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def status_text(status: str | None) -> Text:
    return Text(status or "never", style=STATUS_STYLE.get(status or "", "dim"))


def profiles_table(profiles: Sequence[CredentialProfile]) -> Table:
    table = Table("Name", "Id", "Client ID", "Credential", "Expires", title="Credential profiles")
    for p in profiles:
        expiry = str(p.secret_expires_at or "—")
        if p.expired:
            expiry += " (expired)"
        elif p.expires_soon:
            expiry += " (expires soon)"
        table.add_row(p.name, p.id, p.client_id, p.kind, expiry)
    return table


def tenants_table(tenants: Sequence[Tenant]) -> Table:
    table = Table(
        "Name",
        "Id",
        "Tenant",
        "Cloud",
        "Enabled",
        "Profile",
        "Last Sync Start",
        "Last Sync Status",
        title="Entra ID Sync",
    )
    for t in tenants:
        last = getattr(t, "last_sync", None)
        profile = getattr(t, "profile_name", None) or t.profile_id
        table.add_row(
            t.name,
            t.id,
            t.tenant,
            t.cloud,
            "✓" if t.enabled else "✗",
            profile,
            when(last.last_sync_started_at) if last else "—",
            status_text(last.last_sync_status if last else None),
        )
    return table


def history_table(page: Page[HistoryRow]) -> Table:
    last = max(1, -(-page.total // page.page_size))
    table = Table(
        "Start Time",
        "End Time",
        "Type",
        "Total",
        "Changed",
        "Deleted",
        "Filtered",
        "Status",
        title=f"Sync History — page {page.page} of {last} ({page.total} rows)",
    )
    for r in page.items:
        table.add_row(
            when(r.started_at),
            when(r.finished_at),
            r.object_type,
            str(r.total),
            str(r.changed),
            str(r.deleted),
            str(r.filtered),
            status_text(r.status),
        )
    return table


def progress_table(progress: RunProgress) -> Table:
    title = f"run {progress.run_id or '(waiting for the run in progress)'}: {progress.status}"
    table = Table("Type", "Status", "Total", "Changed", "Deleted", "Filtered", title=title)
    for r in progress.rows:
        table.add_row(
            r.object_type,
            status_text(r.status),
            str(r.total),
            str(r.changed),
            str(r.deleted),
            str(r.filtered),
        )
    return table


def test_result(result: ConnectionTestResult) -> Table:
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


def status_table(result: dict[str, Any]) -> Table:
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
