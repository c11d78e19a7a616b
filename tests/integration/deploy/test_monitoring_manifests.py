"""The monitoring component (deploy/components/monitoring, applied by the prod-monitoring
overlay): a ServiceMonitor scraping every service's health port, the alert rules and the
Grafana dashboard, valid offline against the Kubernetes schemas and the Prometheus Operator's
vendored CRDs; and base with the other overlays still free of the Operator's kinds."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from deploy_helpers import OVERLAYS, entrasync_deployments, of_kind, render
from monitoring_helpers import (
    DASHBOARD,
    OVERLAY,
    monitoring_objects,
    operator_schema,
)

K8S_VERSION = "1.31.0"
OPERATOR_GROUP = "monitoring.coreos.com/"
ADDED = {"Service": 6, "ServiceMonitor": 6, "PrometheusRule": 1, "ConfigMap": 1}


@pytest.mark.parametrize("overlay", [*OVERLAYS, "aks-workload-identity"])
def test_the_other_overlays_apply_without_the_prometheus_operator(overlay: str) -> None:
    assert not [doc for doc in render(overlay) if doc["apiVersion"].startswith(OPERATOR_GROUP)]


def test_the_overlay_is_prod_plus_the_monitoring_objects_in_prods_namespace() -> None:
    docs, prod = render(OVERLAY), render("prod")
    added: dict[str, int] = {}
    for doc in docs:
        if doc not in prod:
            added[doc["kind"]] = added.get(doc["kind"], 0) + 1
    assert added == ADDED
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "entrasync", doc["metadata"]["name"]


def test_the_core_objects_validate_against_the_kubernetes_schemas() -> None:
    for doc in render(OVERLAY):
        if not doc["apiVersion"].startswith(("keda.sh/", OPERATOR_GROUP)):
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize(
    ("kind", "crd_file"),
    [
        ("ServiceMonitor", "monitoring.coreos.com_servicemonitors.yaml"),
        ("PrometheusRule", "monitoring.coreos.com_prometheusrules.yaml"),
    ],
)
def test_operator_objects_validate_against_the_operators_own_crds(kind: str, crd_file: str) -> None:
    objects = monitoring_objects(kind)
    assert objects
    schema = operator_schema(crd_file)
    for obj in objects:
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        jsonschema.validate(obj, schema)


def test_the_strict_schema_refuses_a_misspelt_field() -> None:
    (monitor, *_) = monitoring_objects("ServiceMonitor")
    misspelt = {**monitor, "spec": {**monitor["spec"], "endpoint": monitor["spec"]["endpoints"]}}
    schema = operator_schema("monitoring.coreos.com_servicemonitors.yaml")
    with pytest.raises(jsonschema.ValidationError, match="endpoint"):
        jsonschema.validate(misspelt, schema)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _scraped_ports(docs: tuple[dict[str, Any], ...], pod_labels: dict[str, str]) -> list[Any]:
    """(ServiceMonitor endpoint, Service port) pairs that reach pods with `pod_labels`."""
    found = []
    for monitor in of_kind(docs, "ServiceMonitor"):
        for service in of_kind(docs, "Service"):
            if not _selects(
                monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"]
            ):
                continue
            if not _selects(service["spec"]["selector"], pod_labels):
                continue
            for endpoint in monitor["spec"]["endpoints"]:
                found += [
                    (endpoint, port)
                    for port in service["spec"]["ports"]
                    if port["name"] == endpoint["port"]
                ]
    return found


def test_every_service_is_scraped_once_at_metrics_on_its_health_port() -> None:
    docs = render(OVERLAY)
    for service, deployment in entrasync_deployments(docs).items():
        pod = deployment["spec"]["template"]
        ((endpoint, port),) = _scraped_ports(docs, pod["metadata"]["labels"])
        (health,) = [p for p in pod["spec"]["containers"][0]["ports"] if p["name"] == "health"]
        assert port["targetPort"] in ("health", health["containerPort"]), service
        assert endpoint["path"] == "/metrics"
        # The services' own `service` label must win over the target's (docs/metrics.md).
        assert endpoint["honorLabels"] is True
        assert {"targetLabel": "service", "replacement": service, "action": "replace"} in (
            endpoint["relabelings"]
        )


@pytest.mark.parametrize("service", ["console", "receiver"])
def test_metrics_stay_off_the_public_services(service: str) -> None:
    (public,) = [
        s
        for s in of_kind(render(OVERLAY), "Service")
        if s["metadata"]["name"] == f"entrasync-{service}"
    ]
    assert [port["name"] for port in public["spec"]["ports"]] == ["http"]


def test_the_dashboard_config_map_carries_the_committed_json_for_grafanas_sidecar() -> None:
    (config_map,) = [
        cm
        for cm in monitoring_objects("ConfigMap")
        if cm["metadata"]["name"] == "entrasync-grafana-dashboard"
    ]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["entrasync.json"]) == json.loads(DASHBOARD.read_text())
