"""The receiver's deployment: the only entrasync route meant for the internet, so its pods admit
the ingress controller alone and reach nothing but NATS (and DNS); the example Ingress serves
just Graph's two routes over TLS; its NATS user and credentials are wired like every service's."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_helpers import DEPLOY, OVERLAYS, entrasync_deployments, of_kind, render

K8S_VERSION = "1.31.0"
INGRESS_EXAMPLE = DEPLOY / "examples" / "receiver-ingress.yaml"
RECEIVER = {
    "app.kubernetes.io/name": "entrasync-receiver",
    "app.kubernetes.io/part-of": "entrasync",
}


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def policies_of(overlay: str, direction: str) -> list[dict[str, Any]]:
    return [
        p
        for p in of_kind(render(overlay), "NetworkPolicy")
        if selects(p, RECEIVER) and direction in p["spec"]["policyTypes"]
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_ingress_controller_reaches_the_public_port(overlay: str) -> None:
    rules = [rule for p in policies_of(overlay, "Ingress") for rule in p["spec"].get("ingress", [])]
    public = [r for r in rules if {"port": 8090, "protocol": "TCP"} in r.get("ports", [])]
    assert public == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                    }
                }
            ],
            "ports": [{"port": 8090, "protocol": "TCP"}],
        }
    ]
    # Everything else that may come in is the kubelet's probes on the health port.
    others = [r for r in rules if r not in public]
    assert all(r == {"ports": [{"port": 8080, "protocol": "TCP"}]} for r in others), others


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_receiver_reaches_nats_and_dns_only(overlay: str) -> None:
    ports = {
        (port["port"], port["protocol"])
        for p in policies_of(overlay, "Egress")
        for rule in p["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }
    assert ports == {(4222, "TCP"), (53, "UDP"), (53, "TCP")}
    # ...and default deny covers it.
    assert "entrasync-default-deny" in {
        p["metadata"]["name"] for p in policies_of(overlay, "Egress")
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_receiver_runs_as_its_own_nats_user_with_probes_on_the_health_port(
    overlay: str,
) -> None:
    deployment = entrasync_deployments(render(overlay))["receiver"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    [nats_url] = [e for e in container["env"] if e["name"] == "ENTRASYNC_NATS_URL"]
    assert nats_url["valueFrom"]["secretKeyRef"] == {
        "name": "entrasync-nats",
        "key": "receiver-url",
    }
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "http": 8090,
        "health": 8080,
    }
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "health", probe
    [service] = [
        s
        for s in of_kind(render(overlay), "Service")
        if s["metadata"]["name"] == "entrasync-receiver"
    ]
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]


def test_the_dev_secrets_and_nats_config_know_the_receiver() -> None:
    script = (DEPLOY / "make-dev-secrets.sh").read_text()
    assert "receiver" in script.split("users=(", 1)[1].split(")", 1)[0].split()
    config = (DEPLOY / "overlays" / "dev" / "nats-server.conf").read_text()
    assert '"user": "receiver"' in config and "$NATS_PASSWORD_RECEIVER" in config


def test_the_ingress_example_serves_graphs_two_routes_over_tls() -> None:
    ingress = yaml.safe_load(INGRESS_EXAMPLE.read_text())
    kubernetes_validate.validate(ingress, K8S_VERSION, strict=True)
    spec = ingress["spec"]
    hosts = {rule["host"] for rule in spec["rules"]}
    assert hosts and all(hosts <= set(tls["hosts"]) and tls["secretName"] for tls in spec["tls"])
    paths = [path for rule in spec["rules"] for path in rule["http"]["paths"]]
    assert sorted((p["path"], p["pathType"]) for p in paths) == [
        ("/lifecycle", "Exact"),
        ("/notifications", "Exact"),
    ]
    backends = {
        (p["backend"]["service"]["name"], p["backend"]["service"]["port"]["name"]) for p in paths
    }
    assert backends == {("entrasync-receiver", "http")}
