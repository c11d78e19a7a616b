"""Human sentences for what went wrong in a connection test, keyed by Entra/Graph error codes.

Codes come from Microsoft's documentation of AADSTS errors and Graph error responses; each
sentence says what is wrong *and* what the admin should do about it.
"""

from __future__ import annotations

from entrasync_shared.aadsts import TOKEN_ADVICE, token_advice
from entrasync_shared.subjects import OBJECT_TYPE_NAMES, READ_PERMISSIONS, ObjectType

# Not an object type: Test Connection reads it for the tenant's display name only.
ORGANIZATION_PERMISSIONS = ("Organization.Read.All", "Directory.Read.All")


def needed_permissions(object_type: ObjectType | None) -> str:
    """The least-privileged permission first, then the higher ones that also do."""
    least, *higher = READ_PERMISSIONS[object_type] if object_type else ORGANIZATION_PERMISSIONS
    return f"{least} (or {' or '.join(higher)})" if higher else least


def _network(code: str, host: str, timeout: float) -> str | None:
    if code == "timeout":
        return (
            f"No answer from {host} within {timeout:g} s: check that this service can reach "
            "it (firewall, proxy), then retry."
        )
    if code == "tls_error":
        return f"The TLS certificate of {host} is not trusted: check the cloud's CA settings."
    if code == "network_error":
        return f"Could not connect to {host}: check DNS, firewall and proxy settings."
    if code == "proxy_error":
        return (
            f"The egress proxy did not connect this service to {host} (unreachable, or it "
            "refused: its user and password, or a host it may not reach): check HTTPS_PROXY, "
            "NO_PROXY and ENTRASYNC_CLOUD_PROXIES, and the proxy's own log."
        )
    return None


def explain_discovery(code: str, tenant: str, cloud: str, host: str, timeout: float) -> str:
    if code in ("AADSTS90002", "invalid_tenant"):
        return TOKEN_ADVICE["AADSTS90002"].format(tenant=tenant, cloud=cloud)
    return _network(code, host, timeout) or (
        f"The OpenID configuration of tenant {tenant} could not be read ({code}): check the "
        "tenant and the Azure cloud."
    )


def explain_token(
    code: str, tenant: str, cloud: str, client_id: str, host: str, timeout: float
) -> str:
    known = token_advice(code, tenant=tenant, cloud=cloud, client_id=client_id)
    if known is not None:
        return known
    if code == "federated_token_unavailable":
        return (
            "This service has no workload identity token to present: on AKS, label its pod "
            'azure.workload.identity/use: "true" and give it a service account annotated '
            "azure.workload.identity/client-id, or name the projected token file in the "
            "credential profile."
        )
    return _network(code, host, timeout) or (
        f"Entra ID refused the token request ({code}): see the detail, then check the "
        "credential profile."
    )


def explain_graph(
    code: str, status: int | None, object_type: ObjectType | None, host: str, timeout: float
) -> str:
    what = OBJECT_TYPE_NAMES[object_type] if object_type else "the organization"
    if code == "Authorization_RequestDenied" or status == 403:
        return (
            f"The app lacks {needed_permissions(object_type)} to read {what}: add it as an "
            "application permission and grant admin consent."
        )
    if code == "InvalidAuthenticationToken" or status == 401:
        return (
            "Microsoft Graph did not accept the token: check that the Azure cloud matches "
            "the tenant's cloud."
        )
    if status == 429:
        return "Microsoft Graph is throttling this app: retry in a minute."
    if status is not None and status >= 500:
        return f"Microsoft Graph failed with HTTP {status} while reading {what}: retry later."
    return _network(code, host, timeout) or (
        f"Microsoft Graph refused to read {what} ({code}): see the detail."
    )
