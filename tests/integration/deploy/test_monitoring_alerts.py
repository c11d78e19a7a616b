"""The alert rules and the Grafana dashboard of deploy/components/monitoring: promtool accepts
the rules and parses every dashboard query, each alert fires on the series it is meant for and
stays quiet otherwise (`promtool test rules`), every metric they use is in docs/metrics.md (a
renamed metric breaks this test), and each alert has its runbook section."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from monitoring_helpers import (
    RUNBOOK,
    alerts,
    as_promql,
    dashboard,
    dashboard_exprs,
    promtool,
    rule_groups,
    undocumented,
    write_rule_file,
)

REQUIRED_ALERTS = {
    "EntrasyncTenantNotSynced",
    "EntrasyncRunsFailingInARow",
    "EntrasyncDeadLetters",
    "EntrasyncConsumerLagGrowing",
    "EntrasyncCredentialExpiringSoon",
    "EntrasyncDeltaResyncStorm",
}


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    rules = write_rule_file(tmp_path / "rules.yaml", rule_groups())
    done = promtool("check", "rules", str(rules), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    # Each query as a recording rule: `promtool check rules` parses its PromQL.
    records = [
        {"record": f"dashboard:query_{i}", "expr": as_promql(expr)}
        for i, expr in enumerate(dashboard_exprs())
    ]
    rules = write_rule_file(tmp_path / "dashboard.yaml", [{"name": "dashboard", "rules": records}])
    done = promtool("check", "rules", str(rules), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alerts_that_matter_are_there() -> None:
    assert REQUIRED_ALERTS <= {rule["alert"] for rule in alerts()}


@pytest.mark.parametrize(
    ("source", "exprs"),
    [
        ("the alert rules", lambda: [rule["expr"] for rule in alerts()]),
        ("the dashboard", dashboard_exprs),
        ("docs/runbook.md", lambda: [RUNBOOK.read_text()]),
    ],
)
def test_only_documented_metrics_are_used(source: str, exprs: Any) -> None:
    assert undocumented(exprs()) == set(), f"{source} uses metrics docs/metrics.md does not list"


def test_a_renamed_metric_is_caught() -> None:
    assert undocumented(["rate(entrasync_syncer_run_total[5m])"]) == {"entrasync_syncer_run_total"}
    assert undocumented(["entrasync_history_batch_apply_seconds_bucket"]) == set()
    assert undocumented(["entrasync_syncer_objects_total_bucket"]) == {
        "entrasync_syncer_objects_total_bucket"
    }


def test_every_alert_says_what_happened_and_where_its_runbook_section_is() -> None:
    sections = {
        line.removeprefix("## ").strip().lower()
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }
    for rule in alerts():
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert notes["runbook"] == f"docs/runbook.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in sections, f"docs/runbook.md has no section {rule['alert']}"


def test_the_dashboard_covers_what_an_operator_watches() -> None:
    titles = " ".join(panel["title"].lower() for panel in dashboard()["panels"])
    for topic in (
        "runs",
        "objects",
        "graph requests",
        "throttling",
        "batch apply latency",
        "lag",
        "dead letters",
        "events published",
        "runs in flight",
        "console latency",
    ):
        assert topic in titles, topic


# `promtool test rules` cases: (alert, series, when it fires with which labels, when quiet).
# Series notation: `a+bxn` is a, a+b, ... n+1 samples a minute apart; `_` is no sample.
PENDING = "entrasync_consumer_pending_messages"
ACK_PENDING = "entrasync_consumer_ack_pending_messages"
PIPELINE = "service='history',consumer='pipeline'"
COMMANDS = "service='syncer',consumer='commands'"
TYPE_RESULTS = "entrasync_syncer_type_results_total"
CASES: dict[str, dict[str, Any]] = {
    "EntrasyncTenantNotSynced": {
        "series": {
            # t1 last succeeded at Unix 0 (the start of the test); t2 succeeds every minute.
            'entrasync_scheduler_tenant_last_success_timestamp_seconds{tenant_id="t1"}': "0x60",
            'entrasync_scheduler_tenant_last_success_timestamp_seconds{tenant_id="t2"}': "0+60x60",
            'entrasync_scheduler_tenant_interval_seconds{tenant_id="t1"}': "600x60",
            'entrasync_scheduler_tenant_interval_seconds{tenant_id="t2"}': "600x60",
        },
        "fires": ("40m", [{"tenant_id": "t1"}]),
        "quiet": "25m",
    },
    "EntrasyncRunsFailingInARow": {
        "series": {
            'entrasync_scheduler_tenant_consecutive_failures{tenant_id="t1",pod="a"}': "0 1 2 3x10",
            'entrasync_scheduler_tenant_consecutive_failures{tenant_id="t1",pod="b"}': "0 1 2 3x10",
            'entrasync_scheduler_tenant_consecutive_failures{tenant_id="t2",pod="a"}': "1 2 0x10",
        },
        "fires": ("6m", [{"tenant_id": "t1"}]),
        "quiet": "2m",
    },
    "EntrasyncRunsLost": {
        "series": {"entrasync_scheduler_missed_runs_total": "0x10 1x30"},
        "fires": ("15m", [{}]),
        "quiet": "5m",
    },
    "EntrasyncDeadLetters": {
        "series": {
            # history's counter appears with its first dead letter; the syncer's was there.
            'entrasync_dead_letters_total{service="history",pod="a"}': "_x10 1x30",
            'entrasync_dead_letters_total{service="syncer",pod="b"}': "0x20 1x20",
        },
        "fires": ("22m", [{"service": "history"}, {"service": "syncer"}]),
        "quiet": "40m",
    },
    "EntrasyncConsumerLagGrowing": {
        "series": {
            # history's pipeline backlog grows by 100 a minute (both replicas see it); the
            # syncer's commands backlog is large but flat.
            f"{PENDING}{{{PIPELINE},pod='a'}}": "0+100x60",
            f"{PENDING}{{{PIPELINE},pod='b'}}": "0+100x60",
            f"{ACK_PENDING}{{{PIPELINE},pod='a'}}": "50x60",
            f"{ACK_PENDING}{{{PIPELINE},pod='b'}}": "50x60",
            f"{PENDING}{{{COMMANDS},pod='c'}}": "5000x60",
            f"{ACK_PENDING}{{{COMMANDS},pod='c'}}": "10x60",
        },
        "fires": ("45m", [{"service": "history", "consumer": "pipeline"}]),
        "quiet": "15m",
    },
    "EntrasyncDeltaResyncStorm": {
        "series": {
            f"{TYPE_RESULTS}{{object_type='user',mode='full',reason='resync'}}": "0+1x60",
            f"{TYPE_RESULTS}{{object_type='user',mode='delta',reason='schedule'}}": "0+50x60",
        },
        "fires": ("40m", [{}]),
        "quiet": "10m",
    },
    "EntrasyncCredentialExpiringSoon": {
        "series": {
            'entrasync_config_profile_expiry_days{profile_id="p1"}': "12x5",
            'entrasync_config_profile_expiry_days{profile_id="p2"}': "90x5",
            'entrasync_config_profile_expiry_days{profile_id="p3"}': "-2x5",
        },
        "fires": ("1m", [{"profile_id": "p1"}]),
        "quiet": None,
    },
    "EntrasyncForgedNotifications": {
        "series": {
            # /notifications gets forged POSTs from minute 10 (the series appears then);
            # /lifecycle's refusals are of other kinds.
            'entrasync_receiver_requests_total{route="notifications",outcome="forged",pod="a"}': (
                "_x10 1 3x30"
            ),
            'entrasync_receiver_requests_total{route="lifecycle",outcome="replayed",pod="a"}': (
                "0+1x40"
            ),
            'entrasync_receiver_requests_total{route="lifecycle",outcome="accepted",pod="a"}': (
                "0+5x40"
            ),
        },
        "fires": ("12m", [{"route": "notifications"}]),
        "quiet": "40m",
    },
    "EntrasyncCredentialExpired": {
        "series": {
            'entrasync_config_profile_expiry_days{profile_id="p1"}': "12x5",
            'entrasync_config_profile_expiry_days{profile_id="p3"}': "-2x5",
        },
        "fires": ("1m", [{"profile_id": "p3"}]),
        "quiet": None,
    },
}


def test_every_alert_has_a_firing_case() -> None:
    assert set(CASES) == {rule["alert"] for rule in alerts()}


def _without_annotations(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Annotations are checked above and by `promtool check rules`; leaving them out keeps
    # the cases about when an alert fires and with which labels.
    return [
        {
            **group,
            "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in group["rules"]],
        }
        for group in groups
    ]


@pytest.mark.parametrize("alert", sorted(CASES))
def test_the_alert_fires_on_its_series_and_not_before(alert: str, tmp_path: Path) -> None:
    case = CASES[alert]
    (severity,) = {r["labels"]["severity"] for r in alerts() if r["alert"] == alert}
    write_rule_file(tmp_path / "rules.yaml", _without_annotations(rule_groups()))
    at, labels = case["fires"]
    checks = [
        {
            "eval_time": at,
            "alertname": alert,
            "exp_alerts": [{"exp_labels": {**found, "severity": severity}} for found in labels],
        }
    ]
    if case["quiet"]:
        checks.append({"eval_time": case["quiet"], "alertname": alert, "exp_alerts": []})
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": series, "values": values}
                    for series, values in case["series"].items()
                ],
                "alert_rule_test": checks,
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert done.returncode == 0, re.sub(r"\n{3,}", "\n\n", done.stdout + done.stderr)
