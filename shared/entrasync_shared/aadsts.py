"""What an Entra ID (AADSTS) token error means and what to do about it, in one place.

Codes come from Microsoft's documentation of AADSTS errors. config's Test Connection and the
syncer's run rows both explain token refusals with these sentences, so an admin reads the same
advice wherever the refusal shows up. Placeholders: `{tenant}`, `{cloud}`, `{client_id}`.
"""

from __future__ import annotations

import re
from typing import Final

TOKEN_ADVICE: Final[dict[str, str]] = {
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
    "host's clock; with workload identity, check that the platform still refreshes the "
    "projected token file (a copied or stale token expires within the hour).",
    "AADSTS70021": "Entra ID has no federated credential on app {client_id} that trusts this "
    "token: add one (Certificates & secrets > Federated credentials) with the cluster's OIDC "
    "issuer, the subject system:serviceaccount:<namespace>:<service account> and the audience "
    "api://AzureADTokenExchange.",
    "AADSTS700211": "No federated credential on app {client_id} names the token's issuer: set "
    "the credential's issuer to the cluster's OIDC issuer URL exactly (trailing slash "
    "included).",
    "AADSTS700212": "No federated credential on app {client_id} accepts the token's audience: "
    "the credential's audience and the projected token's must match "
    "(api://AzureADTokenExchange by default).",
    "AADSTS700213": "No federated credential on app {client_id} names the token's subject: set "
    "the credential's subject to system:serviceaccount:<namespace>:<service account> of this "
    "service's pod.",
    "AADSTS7000272": "The key that signed the federated token is not in its issuer's published "
    "keys (JWKS): check that the cluster's OIDC issuer serves its current signing keys.",
    "AADSTS50166": "Entra ID could not read the federated token issuer's OpenID configuration "
    "or keys: check that the cluster's OIDC issuer URL is public and serves them.",
    "AADSTS50027": "The client assertion is not a valid signed JWT: with workload identity, "
    "check that the token file holds the projected service-account token.",
    "AADSTS7000112": "The application is disabled in tenant {tenant}: ask its admin to enable it.",
    "AADSTS7000218": "No client secret or certificate was sent: the credential profile is "
    "incomplete.",
    "AADSTS500011": "Microsoft Graph of the {cloud} cloud is unknown to tenant {tenant}: check "
    "the Azure cloud.",
    "AADSTS900023": "The tenant {tenant} is not a valid tenant name: use its domain or GUID.",
}

_CODE = re.compile(r"\bAADSTS\d{5,8}\b")


def aadsts_code(text: str) -> str | None:
    """The first AADSTS code in an error description (`"AADSTS7000215: Invalid …"`), if any."""
    found = _CODE.search(text)
    return found.group(0) if found else None


def token_advice(code: str | None, *, tenant: str, cloud: str, client_id: str) -> str | None:
    """The sentence for a known AADSTS code, filled in; None for an unknown one."""
    known = TOKEN_ADVICE.get(code or "")
    return known.format(tenant=tenant, cloud=cloud, client_id=client_id) if known else None
