"""The AKS workload identity overlay: prod, plus exactly the service-account annotation and the
pod label AKS's webhook acts on, for config and the syncer only (the services that ask Entra ID
for tokens), and still valid and locked down."""

from __future__ import annotations

import kubernetes_validate
from deploy_helpers import entrasync_deployments, of_kind, render

OVERLAY = "aks-workload-identity"
USERS = {"config", "syncer"}
K8S_VERSION = "1.31.0"


def test_the_overlay_validates_against_the_kubernetes_schemas() -> None:
    docs = render(OVERLAY)
    assert len(docs) == len(render("prod"))
    for doc in docs:
        if not doc["apiVersion"].startswith("keda.sh/"):
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_config_and_the_syncer_pods_are_labelled_for_the_webhook_and_no_other() -> None:
    labelled = {
        service
        for service, deployment in entrasync_deployments(render(OVERLAY)).items()
        if deployment["spec"]["template"]["metadata"]["labels"].get("azure.workload.identity/use")
        == "true"
    }

    assert labelled == USERS


def test_their_service_accounts_name_the_apps_client_id() -> None:
    annotated = {
        account["metadata"]["name"].removeprefix("entrasync-"): account["metadata"]["annotations"]
        for account in of_kind(render(OVERLAY), "ServiceAccount")
        if account["metadata"].get("annotations")
    }

    assert set(annotated) == USERS
    for found in annotated.values():
        assert set(found) == {"azure.workload.identity/client-id"}


def test_the_pods_stay_locked_down_and_mount_no_kubernetes_api_token() -> None:
    # The webhook projects its own token volume; the API token stays unmounted.
    for deployment in entrasync_deployments(render(OVERLAY)).values():
        assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
