"""`entrasync-ctl` against the running system: every command, as an operator runs it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from console_helpers import CLOUD, SEEDED_RUNS, unique
from entrasync_devtools.stack import ServiceStack
from entrasync_sim.launcher import SimulatorProcess

CLIENT_ID = "99999999-2222-4333-8444-555555555555"


def ctl(
    stack: ServiceStack,
    *args: str,
    stdin: str | None = None,
    timeout: float = 120,
    columns: int = 200,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
    env.update(
        ENTRASYNC_NATS_URL=stack.nats_url, ENTRASYNC_PREFIX=stack.prefix, COLUMNS=str(columns)
    )
    command = [str(Path(sys.executable).parent / "entrasync-ctl"), *args]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, env=env, timeout=timeout
    )


def ctl_json(stack: ServiceStack, *args: str, stdin: str | None = None) -> Any:
    done = ctl(stack, "--json", *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_profiles_are_added_listed_updated_and_deleted(console_stack: ServiceStack) -> None:
    name = unique("ctl profile")
    added = ctl_json(
        console_stack,
        "profiles", "add", "--name", name, "--client-id", CLIENT_ID, "--secret-stdin",
        "--expires", "2099-12-31",
        stdin="cli-secret\n",
    )  # fmt: skip
    assert added["name"] == name and added["secret_expires_at"] == "2099-12-31"
    table = ctl(console_stack, "profiles", "list")
    assert table.returncode == 0 and name in table.stdout and "cli-secret" not in table.stdout
    renamed = ctl_json(console_stack, "profiles", "update", name, "--name", f"{name} v2")
    assert renamed["name"] == f"{name} v2" and renamed["version"] == 2
    cleared = ctl_json(console_stack, "profiles", "update", added["id"], "--expires", "none")
    assert cleared["secret_expires_at"] is None
    deleted = ctl(console_stack, "profiles", "delete", f"{name} v2")
    assert deleted.returncode == 0 and "deleted credential profile" in deleted.stdout
    assert added["id"] not in [p["id"] for p in ctl_json(console_stack, "profiles", "list")]


def test_a_workload_identity_profile_is_added_with_no_secret(console_stack: ServiceStack) -> None:
    added = ctl_json(
        console_stack,
        "profiles", "add", "--name", unique("ctl wi"), "--client-id", CLIENT_ID, "--federated",
        "--token-file", "/var/run/secrets/azure/tokens/azure-identity-token",
    )  # fmt: skip
    moved = ctl_json(console_stack, "profiles", "update", added["id"], "--token-file", "default")

    assert added["kind"] == "federated"
    assert added["federated_token_file"] == "/var/run/secrets/azure/tokens/azure-identity-token"
    assert (moved["kind"], moved["federated_token_file"]) == ("federated", None)
    assert "federated" in ctl(console_stack, "profiles", "list").stdout


def test_a_refusal_exits_2_with_the_services_message(console_stack: ServiceStack) -> None:
    bad = ctl(console_stack, "profiles", "add", "--name", "x", "--client-id", "nope")
    assert bad.returncode == 2
    assert "client_id" in bad.stderr
    missing = ctl(console_stack, "tenants", "delete", "no-such-tenant")
    assert missing.returncode == 2 and "not_found" in missing.stderr


def test_tenants_are_added_listed_updated_and_deleted(
    console_stack: ServiceStack, sim_profile: dict[str, Any]
) -> None:
    domain = f"ctl{unique('x')[-8:]}.example.com"
    added = ctl_json(
        console_stack,
        "tenants", "add", domain, "--profile", sim_profile["name"], "--cloud", CLOUD,
        "--disabled", "--name", f"CLI {domain}", "--types", "servicePrincipal,user",
    )  # fmt: skip
    assert added["tenant"] == domain and added["enabled"] is False and added["full_scan_next"]
    assert added["profile_name"] == sim_profile["name"]
    assert added["object_types"] == ["user", "servicePrincipal"]
    listed = ctl(console_stack, "tenants", "list")
    assert listed.returncode == 0 and f"CLI {domain}" in listed.stdout
    assert added["id"] in listed.stdout.split()
    updated = ctl_json(
        console_stack, "tenants", "update", domain, "--no-full-scan", "--types", "orgContact"
    )
    assert updated["full_scan_next"] is False and updated["version"] == 2
    assert updated["object_types"] == ["orgContact"]
    unconfirmed = ctl(console_stack, "tenants", "delete", added["id"])
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    assert added["id"] in ctl(console_stack, "tenants", "list").stdout
    deleted = ctl(console_stack, "tenants", "delete", added["id"], "--purge-history", "--yes")
    assert deleted.returncode == 0 and "deleted tenant" in deleted.stdout
    assert domain not in ctl(console_stack, "tenants", "list").stdout


def test_test_connection_exits_0_on_success_and_1_on_failure(
    console_stack: ServiceStack,
    console_sim: SimulatorProcess,
    sim_profile: dict[str, Any],
    synced_tenant: dict[str, Any],
) -> None:
    saved = ctl(console_stack, "test-connection", synced_tenant["id"])
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert "succeeded" in saved.stdout
    domain = console_sim.tenants[0]["domain"]
    unsaved = ctl_json(
        console_stack, "test-connection", domain, "--profile", sim_profile["id"], "--cloud", CLOUD
    )
    assert unsaved["ok"] is True
    unknown = ctl(
        console_stack,
        "test-connection", "nobody.example.com", "--profile", sim_profile["id"], "--cloud", CLOUD,
    )  # fmt: skip
    assert unknown.returncode == 1 and "failed" in unknown.stdout


def test_sync_now_waits_and_shows_progress_per_object_type(
    console_stack: ServiceStack, synced_tenant: dict[str, Any]
) -> None:
    done = ctl(console_stack, "sync", "now", synced_tenant["id"], "--wait", "--wait-timeout", "90")
    assert done.returncode == 0, done.stdout + done.stderr
    for object_type in ("user", "group", "device"):
        assert object_type in done.stdout
    assert done.stdout.count("Succeeded") >= 3 and done.stdout.count(": Succeeded") == 1
    assert "Objects" in done.stdout and "Pages" in done.stdout
    queued = ctl_json(console_stack, "sync", "now", synced_tenant["name"])
    assert queued["status"] in ("queued", "deferred") and queued["tenant_id"]


def test_history_shows_a_page_or_writes_every_row_to_csv(
    console_stack: ServiceStack, seeded_tenant: dict[str, Any], tmp_path: Path
) -> None:
    table = ctl(console_stack, "history", seeded_tenant["id"], "--page-size", "100", "--page", "2")
    assert table.returncode == 0
    assert f"page 2 of 2 ({SEEDED_RUNS * 3} rows)" in table.stdout
    page = ctl_json(console_stack, "history", seeded_tenant["id"], "--search", "throttled")
    assert page["total"] == SEEDED_RUNS // 10
    assert {row["attempts"] for row in page["items"]} == {2}  # those runs were retried
    args = ("--wide", "history", seeded_tenant["id"], "--search", "throttled")
    wide = ctl(console_stack, *args, columns=250).stdout.splitlines()
    header = next(line for line in wide if "Run Id" in line)
    assert header.split()[-1] == "Attempts"
    assert [line.split()[-1] for line in wide if "throttled" in line] == ["2"] * (SEEDED_RUNS // 10)
    target = tmp_path / "history.csv"
    written = ctl(console_stack, "history", seeded_tenant["id"], "--csv", str(target))
    assert written.returncode == 0 and f"wrote {SEEDED_RUNS * 3} rows" in written.stdout
    with target.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0][0] == "Start Time" and len(rows) == 1 + SEEDED_RUNS * 3
    piped = ctl(console_stack, "history", seeded_tenant["id"], "--csv", "-")
    assert piped.returncode == 0 and f"wrote {SEEDED_RUNS * 3} rows" in piped.stderr
    assert list(csv.reader(piped.stdout.splitlines())) == rows
    refused = ctl(console_stack, "history", seeded_tenant["id"], "--page-size", "7")
    assert refused.returncode == 2 and "page_size" in refused.stderr


def test_events_tail_prints_change_events_filtered_by_tenant_and_type(
    console_stack: ServiceStack, synced_tenant: dict[str, Any]
) -> None:
    tenant = synced_tenant["id"]
    groups = ctl(
        console_stack, "--json", "events", "tail", "--tenant", tenant, "--type", "group",
        "--from-start", "--count", "3",
    )  # fmt: skip
    assert groups.returncode == 0, groups.stderr
    events = [json.loads(line) for line in groups.stdout.splitlines()]
    assert len(events) == 3
    assert all(e["data"]["tenant_id"] == tenant for e in events)
    assert all(e["type"].startswith("io.entrasync.directory.group.") for e in events)
    pretty = ctl(
        console_stack, "events", "tail", "--tenant", synced_tenant["tenant"], "--from-start",
        "--count", "2",
    )  # fmt: skip
    assert pretty.returncode == 0 and ".created" in pretty.stdout and tenant in pretty.stdout


def test_status_lists_the_services_with_their_stats(console_stack: ServiceStack) -> None:
    report = ctl_json(console_stack, "status")
    assert {name: h["ok"] for name, h in report["health"].items()} == {
        "config": True,
        "scheduler": True,
        "syncer": True,
        "history": True,
        "receiver": True,
    }
    discovered = {str(i["name"]) for i in report["instances"]}
    assert any("config" in name for name in discovered), discovered
    assert all("endpoints" in i for i in report["instances"])
    table = ctl(console_stack, "status")
    assert table.returncode == 0 and "config" in table.stdout and "history" in table.stdout


@pytest.mark.parametrize("args", [("tenants", "list"), ("status",)])
def test_an_unreachable_nats_is_a_clear_error(args: tuple[str, ...]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
    command = [
        str(Path(sys.executable).parent / "entrasync-ctl"),
        "--nats-url",
        "nats://127.0.0.1:1",
    ]
    done = subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert "cannot reach NATS" in done.stderr


def test_a_tenant_is_found_by_its_directory_guid(
    console_stack: ServiceStack, console_sim: SimulatorProcess, synced_tenant: dict[str, Any]
) -> None:
    guid = console_sim.tenants[0]["tenant_id"]
    assert synced_tenant["entra_tenant_id"] == guid
    page = ctl_json(console_stack, "history", guid.upper())
    assert page["items"] and {r["tenant_id"] for r in page["items"]} == {synced_tenant["id"]}


def test_scripts_get_yaml_and_csv_and_tables_fit_80_columns(
    console_stack: ServiceStack, synced_tenant: dict[str, Any]
) -> None:
    as_yaml = yaml.safe_load(ctl(console_stack, "-o", "yaml", "tenants", "list").stdout)
    assert synced_tenant["id"] in [t["id"] for t in as_yaml]
    as_csv = list(
        csv.DictReader(ctl(console_stack, "-o", "csv", "tenants", "list").stdout.splitlines())
    )
    assert synced_tenant["id"] in [t["id"] for t in as_csv]
    env_80 = ctl(console_stack, "tenants", "list", columns=80)
    assert max(len(line) for line in env_80.stdout.splitlines()) <= 80
    assert synced_tenant["id"] in env_80.stdout.split()
    wide = ctl(console_stack, "--wide", "tenants", "list", columns=200)
    assert synced_tenant["tenant"] in wide.stdout and synced_tenant["id"] in wide.stdout.split()
