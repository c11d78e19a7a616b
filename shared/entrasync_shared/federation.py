"""Workload identity federation: where a pod's projected token is, and reading it fresh.

On AKS, the workload identity webhook projects a service-account token into every pod labelled
`azure.workload.identity/use: "true"` and sets `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`
and `AZURE_TENANT_ID` (the variables azure-identity's `WorkloadIdentityCredential` reads).
entrasync takes the client id from the credential profile and the tenant from the tenant
policy, because one syncer reads many tenants with different apps; only the token file's place
comes from the environment, when the profile names none. The kubelet rewrites that file before
the token expires, so it is read again for every token request and never kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

TOKEN_FILE_VARIABLE = "AZURE_FEDERATED_TOKEN_FILE"
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"
"""The audience Entra expects in a federated assertion unless the credential names another."""


class FederatedTokenUnavailable(Exception):
    """The federated token file is not configured, unreadable or empty (never its content)."""


def token_file(configured: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The token file to read: the profile's own, else `AZURE_FEDERATED_TOKEN_FILE`."""
    path = configured or environ.get(TOKEN_FILE_VARIABLE, "")
    if not path:
        raise FederatedTokenUnavailable(
            f"the credential profile names no token file and {TOKEN_FILE_VARIABLE} is not set "
            'for this service: on AKS, label its pod azure.workload.identity/use: "true" and '
            "give it a service account annotated azure.workload.identity/client-id"
        )
    return path


def read_assertion(path: str) -> str:
    """The token in `path`, read now (the platform rotates it)."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise FederatedTokenUnavailable(
            f"the federated token file {path} cannot be read ({reason})"
        ) from None
    if not text:
        raise FederatedTokenUnavailable(f"the federated token file {path} is empty")
    return text


def assertion_source(
    configured: str | None, environ: Mapping[str, str] = os.environ
) -> Callable[[], str]:
    """What MSAL takes as `client_assertion`: a callable that reads the token file each time."""
    return partial(read_assertion, token_file(configured, environ))
