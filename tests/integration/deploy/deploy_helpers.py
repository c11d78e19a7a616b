"""Rendering and reading deploy/ manifests for the deploy tests."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "prod")
KEDA_SCHEMAS = DEPLOY / "schemas" / "keda"
KUBECTL_HINT = (
    "kubectl is needed to render deploy/ (kubectl kustomize). Install it: "
    "sudo apt-get install -y kubernetes-client"
)


@functools.cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize deploy/overlays/<overlay>`, parsed."""
    kubectl = shutil.which("kubectl")
    assert kubectl, KUBECTL_HINT
    out = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def entrasync_deployments(docs: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """Service name → its Deployment."""
    return {
        doc["metadata"]["name"].removeprefix("entrasync-"): doc
        for doc in of_kind(docs, "Deployment")
        if doc["metadata"]["name"].startswith("entrasync-")
    }


def keda_schema(kind_file: str) -> dict[str, Any]:
    crd = yaml.safe_load((KEDA_SCHEMAS / kind_file).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema
