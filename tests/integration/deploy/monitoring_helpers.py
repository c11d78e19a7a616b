"""Reading deploy/'s monitoring objects (components/monitoring) and docs/metrics.md, and running
promtool, for the monitoring tests."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from deploy_helpers import DEPLOY, ROOT, of_kind, render

OVERLAY = "prod-monitoring"
COMPONENT = DEPLOY / "components" / "monitoring"
DASHBOARD = COMPONENT / "grafana-dashboard.json"
OPERATOR_SCHEMAS = DEPLOY / "schemas" / "prometheus-operator"
METRICS_DOC = ROOT / "docs" / "metrics.md"
RUNBOOK = ROOT / "docs" / "runbook.md"
PROMTOOL_HINT = (
    "promtool is needed to check deploy/'s alert rules. Install it: "
    "sudo apt-get install -y prometheus   (Debian's package carries promtool)"
)

_METRIC = re.compile(r"\bentrasync_[a-z0-9_]+")
_DOC_ROW = re.compile(r"^\| `(entrasync_[a-z0-9_]+)` \| (\w+) \|", re.MULTILINE)
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
# Grafana's variables, replaced by something PromQL parses.
_GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$namespace": ".*"}


def documented_metrics() -> dict[str, str]:
    """Metric name → type, from docs/metrics.md's tables."""
    return dict(_DOC_ROW.findall(METRICS_DOC.read_text()))


def undocumented(exprs: list[str]) -> set[str]:
    """The entrasync_ metric names the PromQL `exprs` use that docs/metrics.md does not list
    (a histogram's `_bucket`, `_sum` and `_count` series count as the histogram)."""
    documented = documented_metrics()
    missing = set()
    for name in {found for expr in exprs for found in _METRIC.findall(expr)}:
        base = next((name.removesuffix(s) for s in _HISTOGRAM_SERIES if name.endswith(s)), name)
        if name not in documented and documented.get(base) != "histogram":
            missing.add(name)
    return missing


def monitoring_objects(kind: str) -> list[dict[str, Any]]:
    return of_kind(render(OVERLAY), kind)


def rule_groups() -> list[dict[str, Any]]:
    """The PrometheusRule's groups, as a Prometheus rule file wants them."""
    (rule,) = monitoring_objects("PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_exprs() -> list[str]:
    return [
        target["expr"] for panel in dashboard()["panels"] for target in panel.get("targets", [])
    ]


def as_promql(grafana_expr: str) -> str:
    """A dashboard query with Grafana's variables replaced, so promtool can parse it."""
    for variable, value in _GRAFANA_VARIABLES.items():
        grafana_expr = grafana_expr.replace(variable, value)
    return grafana_expr


def operator_schema(crd_file: str) -> dict[str, Any]:
    """The Operator CRD's v1 schema, refusing unknown fields (the API server would prune them
    silently: a misspelt field would just not work)."""
    crd = yaml.safe_load((OPERATOR_SCHEMAS / crd_file).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = copy.deepcopy(version["schema"]["openAPIV3Schema"])
    _strict_and_pythonic(schema)
    return schema


def _strict_and_pythonic(schema: dict[str, Any]) -> None:
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema.setdefault("additionalProperties", False)
    # Go's regexps take a flag group anywhere (`^(?i)abort`); Python's only at the start.
    if isinstance(schema.get("pattern"), str) and schema["pattern"].startswith("^(?i)"):
        schema["pattern"] = "(?i)^" + schema["pattern"].removeprefix("^(?i)")
    for key in ("properties", "patternProperties"):
        for sub in schema.get(key, {}).values():
            _strict_and_pythonic(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _strict_and_pythonic(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            _strict_and_pythonic(sub)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    assert found, PROMTOOL_HINT
    return subprocess.run([found, *args], cwd=cwd, capture_output=True, text=True)


def write_rule_file(path: Path, groups: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path
