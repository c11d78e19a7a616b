"""Human sentences for what went wrong in a connection test, keyed by Entra/Graph error codes.

Codes come from Microsoft's documentation of AADSTS errors and Graph error responses; each
sentence says what is wrong *and* what the admin should do about it.
"""

from __future__ import annotations

from entrasync_shared.subjects import ObjectType

PERMISSIONS: dict[ObjectType | None, str] = {
    "user": "User.Read.All",
    "group": "GroupMember.Read.All (or Group.Read.All)",
    "device": "Device.Read.All",
    None: "Organization.Read.All",
}

_TOKEN_CODES = {
    "AADSTS7000215": "The client secret is wrong: paste the secret's Value (not its Secret ID) "
    "into the credential profile.",
    "AADSTS7000222": "The client secret has expired: create a new client secret for the app "
    "registration and update the credential profile.",
    "AADSTS700016": "Application (client) id {client_id} was not found in tenant {tenant}: check "
    "the client id, and that the app is registered in (or consented to by) this tenant.",
    "AADSTS90002": "Tenant {tenant} was not found in the {cloud} cloud: check the tenant's domain "
    "or GUID and the Azure cloud.",
    "AADSTS700027": "The certificate was not accepted: upload this certificate to the app "
    "registration (Certificates & secrets), or replace an expired one.",
    "AADSTS700024": "The signed client assertion is outside its validity window: check this "
    "host's clock.",
    "AADSTS7000112": "The application is disabled in tenant {tenant}: ask its admin to enable it.",
    "AADSTS7000218": "No client secret or certificate was sent: the credential profile is "
    "incomplete.",
    "AADSTS500011": "Microsoft Graph of the {cloud} cloud is unknown to tenant {tenant}: check "
    "the Azure cloud.",
    "AADSTS900023": "The tenant {tenant} is not a valid tenant name: use its domain or GUID.",
}


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
    return None


def explain_discovery(code: str, tenant: str, cloud: str, host: str, timeout: float) -> str:
    if code in ("AADSTS90002", "invalid_tenant"):
        return _TOKEN_CODES["AADSTS90002"].format(tenant=tenant, cloud=cloud)
    return _network(code, host, timeout) or (
        f"The OpenID configuration of tenant {tenant} could not be read ({code}): check the "
        "tenant and the Azure cloud."
    )


def explain_token(
    code: str, tenant: str, cloud: str, client_id: str, host: str, timeout: float
) -> str:
    known = _TOKEN_CODES.get(code)
    if known is not None:
        return known.format(tenant=tenant, cloud=cloud, client_id=client_id)
    return _network(code, host, timeout) or (
        f"Entra ID refused the token request ({code}): see the detail, then check the "
        "credential profile."
    )


def explain_graph(
    code: str, status: int | None, object_type: ObjectType | None, host: str, timeout: float
) -> str:
    what = f"{object_type}s" if object_type else "the organization"
    if code == "Authorization_RequestDenied" or status == 403:
        permission = PERMISSIONS[object_type]
        return (
            f"The app lacks {permission} (or Directory.Read.All) to read {what}: add it as an "
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
