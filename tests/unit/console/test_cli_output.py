"""`entrasync-ctl` output: tables fit a terminal without cutting ids; scripts get JSON/YAML/CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from entrasync_console.cli.common import Output, formatted, plain
from entrasync_console.cli.render import (
    history_table,
    profiles_table,
    progress_table,
    tenants_table,
)
from entrasync_console.core.ops import RunProgress
from entrasync_console.core.views import TenantView
from entrasync_shared.messages import CredentialProfile, HistoryRow, Page, TenantSyncStatus
from rich.console import Console

START = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)


def rendered(table: object, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(table)
    return console.export_text()


def tenant(n: int, name: str = "Contoso Production Directory (EMEA)") -> TenantView:
    return TenantView(
        id=f"{n:032x}",
        name=f"{name} {n}",
        tenant=f"contoso-emea-{n}.onmicrosoft.com",
        cloud="global",
        profile_id="a" * 32,
        profile_name="Production app registration",
        enabled=True,
        full_scan_next=False,
        object_types=("user", "group", "device"),
        interval_seconds=60,
        created_at=START,
        updated_at=START,
        last_sync=TenantSyncStatus(
            tenant_id=f"{n:032x}",
            last_run_id="r" * 32,
            last_sync_started_at=START,
            last_sync_status="Succeeded",
        ),
    )


def row(object_type: str = "user", **fields: object) -> HistoryRow:
    values: dict[str, object] = dict(
        tenant_id="t" * 32, run_id="f" * 32, object_type=object_type, mode="delta",
        reason="schedule", status="Succeeded", started_at=START,
        finished_at=START + timedelta(seconds=3), total=1200, changed=3,
    )  # fmt: skip
    values.update(fields)
    return HistoryRow.model_validate(values)


def assert_fits(text: str, width: int, *ids: str) -> None:
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width, text
    for one_id in ids:
        assert any(one_id in line for line in lines), f"{one_id} cut or wrapped:\n{text}"


@pytest.mark.parametrize("wide", [False, True])
def test_the_tenant_table_fits_80_columns_and_never_cuts_an_id(wide: bool) -> None:
    tenants = [tenant(n) for n in (1, 2)]
    text = rendered(tenants_table(tenants, wide), 80 if not wide else 160)
    assert_fits(text, 80 if not wide else 160, *(t.id for t in tenants))
    assert ("Cloud" in text) is wide


def test_the_profile_table_fits_80_columns_with_whole_ids() -> None:
    profile = CredentialProfile(
        id="c" * 32, name="Production app registration for the EMEA directories",
        client_id="99999999-2222-4333-8444-555555555555", kind="secret", version=1,
        created_at=START, updated_at=START,
    )  # fmt: skip
    assert_fits(rendered(profiles_table([profile]), 80), 80, profile.id)
    wide = rendered(profiles_table([profile], wide=True), 140)
    assert profile.client_id in wide


def test_the_history_table_fits_80_columns_and_shows_the_mode() -> None:
    page = Page[HistoryRow](items=(row(), row("group")), total=2, page=1, page_size=50)
    narrow = rendered(history_table(page), 80)
    assert_fits(narrow, 80)
    assert "delta" in narrow and "3.0s" in narrow
    wide = rendered(history_table(page, wide=True), 200)
    assert "delta/schedule" in wide and "f" * 32 in wide


def test_the_wide_history_table_shows_a_retried_runs_attempts() -> None:
    page = Page[HistoryRow](items=(row(attempts=3),), total=1, page=1, page_size=50)
    wide = rendered(history_table(page, wide=True), 200)
    header, line = wide.splitlines()[2], wide.splitlines()[4]
    assert header.rstrip(" │┃").endswith("Attempts") and line.rstrip(" │").endswith("3")


def test_progress_shows_objects_pages_and_rate_while_running() -> None:
    running = row(status="Running", finished_at=None, total=0, received=4000, pages=20)
    progress = RunProgress("f" * 32, rows=(running,))
    assert progress.rate(running, now=START + timedelta(seconds=2)) == "2,000"
    text = rendered(progress_table(progress), 80)
    assert "4000" in text and "20" in text
    done = row(total=9000, finished_at=START + timedelta(seconds=3))
    assert progress.rate(done) == "3,000"


@pytest.mark.parametrize("output", [Output.json, Output.yaml, Output.csv])
def test_machine_formats_carry_every_field(output: Output) -> None:
    tenants = plain([tenant(1), tenant(2)])
    text = formatted(tenants, output)
    if output is Output.json:
        parsed = json.loads(text)
    elif output is Output.yaml:
        parsed = yaml.safe_load(text)
    else:
        parsed = list(csv.DictReader(io.StringIO(text)))
        assert json.loads(parsed[0]["last_sync"])["last_sync_status"] == "Succeeded"
    assert [t["id"] for t in parsed] == [tenants[0]["id"], tenants[1]["id"]]
    assert parsed[1]["profile_name"] == "Production app registration"


def test_csv_of_a_page_lists_its_items() -> None:
    page = plain(Page[HistoryRow](items=(row(), row("group")), total=2, page=1, page_size=50))
    rows = list(csv.DictReader(io.StringIO(formatted(page, Output.csv))))
    assert [r["object_type"] for r in rows] == ["user", "group"]
