"""Federated identity credentials: an app trusts tokens of an external issuer (AKS, GitHub…).

An app lists credentials (issuer, subject, audiences); a client sends a token that issuer
signed as its `client_assertion`. Entra matches the token's `iss`/`sub`/`aud` against the
app's credentials, checks the signature against the issuer's published keys and the token's
lifetime, and answers the AADSTS codes of the checks that fail. The issuer's keys are
registered through the control API (a test's own issuer has no public discovery document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt

from entrasync_sim.credentials import AssertionRefused

DEFAULT_AUDIENCE = "api://AzureADTokenExchange"
_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256"]
_SKEW = 300
_HINT = (
    "Please check your federated identity credential Subject, Audience and Issuer against the "
    "presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
)


@dataclass(frozen=True)
class FederatedCredential:
    """One federated identity credential of an app."""

    issuer: str
    subject: str
    audiences: tuple[str, ...] = (DEFAULT_AUDIENCE,)
    name: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "issuer": self.issuer,
            "subject": self.subject,
            "audiences": list(self.audiences),
        }


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"a federated credential needs {name} (a non-empty string)")
    return value


def parse_federated(body: Any) -> FederatedCredential:
    """A federated credential from its JSON form; ValueError names what is wrong."""
    if not isinstance(body, dict):
        raise ValueError("a federated credential is an object")
    unknown = set(body) - {"name", "issuer", "subject", "audiences"}
    if unknown:
        raise ValueError(f"unknown federated credential fields: {sorted(unknown)}")
    audiences = body.get("audiences", [DEFAULT_AUDIENCE])
    if (
        not isinstance(audiences, list)
        or len(audiences) != 1  # Entra allows exactly one audience per credential
        or not all(isinstance(a, str) and a for a in audiences)
    ):
        raise ValueError("audiences must list exactly one non-empty string")
    name = body.get("name", "")
    if not isinstance(name, str):
        raise ValueError("name must be a string")
    return FederatedCredential(
        _text(body, "issuer"), _text(body, "subject"), tuple(audiences), name
    )


@dataclass
class IssuerKeys:
    """The published signing keys (JWKS) of the external issuers the simulator knows."""

    keys: dict[str, jwt.PyJWKSet] = field(default_factory=dict)

    def register(self, issuer: str, jwks: Any) -> None:
        """Trust `jwks` as `issuer`'s keys from now on; ValueError for an unusable set."""
        try:
            self.keys[issuer] = jwt.PyJWKSet.from_dict(jwks)
        except (jwt.PyJWKSetError, jwt.PyJWKError, TypeError, KeyError, AttributeError) as err:
            raise ValueError(f"not a usable JWKS: {err}") from None

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"issuer": issuer, "kids": [key.key_id for key in found.keys]}
            for issuer, found in self.keys.items()
        ]


def _refused(code: int, text: str, status: int = 400) -> AssertionRefused:
    error = "invalid_client" if status == 401 else "invalid_request"
    return AssertionRefused(status, error, code, text)


def unverified_claims(assertion: str) -> dict[str, Any]:
    """The token's claims before any check (to pick the credential); 50027 when not a JWT."""
    try:
        return dict(jwt.decode(assertion, options={"verify_signature": False}))
    except jwt.PyJWTError:
        raise _refused(50027, "JWT token is invalid or malformed.") from None


def match_credential(
    claims: dict[str, Any], credentials: list[FederatedCredential]
) -> FederatedCredential:
    """The app's credential for this token's issuer, subject and audience, as Entra picks it."""
    issuer, subject, audience = claims.get("iss"), claims.get("sub"), claims.get("aud")
    if not credentials:
        raise _refused(
            70021,
            "No matching federated identity record found for presented assertion. Assertion "
            f"Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: "
            f"'{audience}'. {_HINT}",
        )
    by_issuer = [c for c in credentials if c.issuer == issuer]
    if not by_issuer:
        raise _refused(
            700211,
            "No matching federated identity record found for presented assertion issuer "
            f"'{issuer}'. {_HINT}",
        )
    by_subject = [c for c in by_issuer if c.subject == subject]
    if not by_subject:
        raise _refused(
            700213,
            "No matching federated identity record found for presented assertion subject "
            f"'{subject}'. {_HINT}",
        )
    audiences = audience if isinstance(audience, list) else [audience]
    for credential in by_subject:
        if any(a in credential.audiences for a in audiences):
            return credential
    raise _refused(
        700212,
        "No matching federated identity record found for presented assertion audience "
        f"'{audience}'. {_HINT}",
    )


def _signing_key(assertion: str, issuer: str, issuers: IssuerKeys) -> jwt.PyJWK:
    published = issuers.keys.get(issuer)
    if published is None:
        raise _refused(50166, f"Request to External OIDC endpoint failed. Issuer: '{issuer}'.")
    kid = jwt.get_unverified_header(assertion).get("kid")
    for key in published.keys:
        if key.key_id == kid or (kid is None and len(published.keys) == 1):
            return key
    raise _refused(
        7000272,
        f"The certificate with identifier {kid} used to sign the federated credential could not "
        f"be found in the metadata of identity provider {issuer}. Please validate that your "
        "Identity Provider's metadata exposes the key used to sign the incoming token.",
        401,
    )


def check_federated(
    assertion: str,
    credentials: list[FederatedCredential],
    issuers: IssuerKeys,
    now: int,
) -> None:
    """Refuse (AssertionRefused) a federated assertion as Entra would, else return."""
    claims = unverified_claims(assertion)
    credential = match_credential(claims, credentials)
    key = _signing_key(assertion, credential.issuer, issuers)
    try:
        jwt.decode(
            assertion,
            key.key,
            algorithms=_ALGORITHMS,
            options={"verify_exp": False, "verify_nbf": False, "verify_aud": False},
        )
    except jwt.PyJWTError:
        raise _refused(50027, "JWT token is invalid or malformed.") from None
    expires, not_before = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if (
        not isinstance(expires, int | float)
        or expires <= now
        or not isinstance(not_before, int | float)
        or not_before > now + _SKEW
    ):
        raise _refused(700024, "Client assertion is not within its valid time range.", 401)


def looks_federated(claims: dict[str, Any], header: dict[str, Any], client_id: str) -> bool:
    """Whether an assertion is a federated token rather than one the app signed itself.

    An app's own (certificate) assertion names the app as issuer and its certificate by
    thumbprint; a federated token comes from another issuer and names its key by `kid`.
    """
    has_thumbprint = "x5t" in header or "x5t#S256" in header
    return claims.get("iss") != client_id and not has_thumbprint
