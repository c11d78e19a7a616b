"""deploy/ renders for every overlay, validates offline against the Kubernetes and KEDA schemas,
is locked down, and gives each service exactly the settings it reads."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_helpers import (
    DEPLOY,
    OVERLAYS,
    ROOT,
    entrasync_deployments,
    keda_schema,
    of_kind,
    render,
)
from entrasync_devtools.deploy_env import (
    SECRET_ENV,
    SETTINGS,
    env_file,
    env_settings,
    settings_class,
)
from entrasync_shared.permissions import render_nats_config_with_env_passwords
from entrasync_shared.subjects import Names

K8S_VERSION = "1.31.0"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    docs = render(overlay)
    assert docs, f"{overlay} renders nothing"
    for doc in docs:
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_objects_validate_against_kedas_own_crds(overlay: str) -> None:
    scaled = of_kind(render(overlay), "ScaledObject")
    assert [s["metadata"]["name"] for s in scaled] == ["entrasync-syncer"]
    schema = keda_schema("keda.sh_scaledobjects.yaml")
    for obj in scaled:
        jsonschema.validate(obj, schema)
        trigger = obj["spec"]["triggers"][0]
        assert trigger["type"] == "nats-jetstream"
        assert trigger["metadata"]["stream"] == Names().commands_stream
        assert trigger["metadata"]["consumer"] == Names().consumer("syncer", "commands")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_locked_down(overlay: str) -> None:
    docs = render(overlay)
    for doc in [*of_kind(docs, "Deployment"), *of_kind(docs, "StatefulSet"), *of_kind(docs, "Job")]:
        pod = doc["spec"]["template"]["spec"]
        name = doc["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert "limits" in container["resources"] and "requests" in container["resources"]
            if name.startswith("entrasync-"):
                assert context["readOnlyRootFilesystem"] is True, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_have_probes_budgets_and_long_enough_grace(overlay: str) -> None:
    docs = render(overlay)
    budgets = {pdb["metadata"]["name"] for pdb in of_kind(docs, "PodDisruptionBudget")}
    for service, deployment in entrasync_deployments(docs).items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert f"entrasync-{service}" in budgets
        settings = env_settings(settings_class(service))
        ack_wait = (
            max(float(v) for k, v in settings.items() if k.endswith("ACK_WAIT") and v is not None)
            if any(k.endswith("ACK_WAIT") for k in settings)
            else 0
        )
        assert pod["terminationGracePeriodSeconds"] > ack_wait, service


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_value_is_committed(overlay: str) -> None:
    docs = render(overlay)
    assert of_kind(docs, "Secret") == []
    for deployment in entrasync_deployments(docs).values():
        for env in deployment["spec"]["template"]["spec"]["containers"][0].get("env", []):
            assert "valueFrom" in env and "value" not in env, env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_gets_exactly_the_settings_it_reads(overlay: str) -> None:
    docs = render(overlay)
    config_maps = {cm["metadata"]["name"]: cm.get("data", {}) for cm in of_kind(docs, "ConfigMap")}
    deployments = entrasync_deployments(docs)
    assert set(deployments) == set(SETTINGS)
    for service, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        provided = {env["name"] for env in container.get("env", [])}
        for source in container.get("envFrom", []):
            provided |= set(config_maps[source["configMapRef"]["name"]])
        assert provided == set(env_settings(settings_class(service))), service
        for env in container.get("env", []):
            assert env["name"] in SECRET_ENV, env["name"]


def test_generated_files_are_up_to_date() -> None:
    for service in SETTINGS:
        committed = (DEPLOY / "base" / "settings" / f"{service}.env").read_text()
        assert committed == env_file(service), (
            f"deploy/base/settings/{service}.env is stale: "
            "run `uv run python -m entrasync_devtools.deploy_env`"
        )
    nats = render_nats_config_with_env_passwords(
        Names(), port=4222, http_port=8222, jetstream={"store_dir": "/data/jetstream"}
    )
    assert (DEPLOY / "overlays" / "dev" / "nats-server.conf").read_text().strip() == nats.strip(), (
        "run `uv run entrasync-infra nats-config > deploy/overlays/dev/nats-server.conf`"
    )


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint missing: it comes with the dev dependencies (uv sync)"
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_the_image_install_step_installs_the_service_alone(service: str, tmp_path: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv not found: run `make test`, which installs it"
    venv = tmp_path / "venv"
    env = {**os.environ, "PATH": f"{Path(uv).parent}:{os.environ['PATH']}", "UV_NO_PROGRESS": "1"}
    done = subprocess.run(
        [str(ROOT / "scripts" / "install-service.sh"), service, str(venv)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    others = [s for s in SETTINGS if s != service]
    # Only the services with a database get its driver (shared/ has none: issue 19.5).
    driver = [] if service in ("config", "history") else ["pymongo", "bson"]
    probe = (
        "import importlib.util, sys; "
        f"import entrasync_{service}.main; "
        f"sys.exit(any(importlib.util.find_spec(m) for m in {[f'entrasync_{o}' for o in others]!r}"
        f" + ['fiftyone', 'pytest'] + {driver!r}))"
    )
    assert subprocess.run([str(venv / "bin" / "python"), "-c", probe]).returncode == 0
    assert (venv / "bin" / f"entrasync-{service}").exists()


def test_compose_builds_targets_the_dockerfile_defines() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    targets = {
        line.split()[-1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("FROM ") and " AS " in line
    }
    built = [svc["build"]["target"] for svc in compose["services"].values() if "build" in svc]
    assert built and set(built) <= targets
    entrasync = compose["services"]["entrasync"]
    assert entrasync["environment"]["NATS_URL"].startswith("nats://nats:")
    assert "replicaSet=rs0" in entrasync["environment"]["MONGODB_URI"]
    for service in SETTINGS:
        assert service in targets, f"Dockerfile has no target for {service}"
