"""A workload's token issuer for federated credentials: what a Kubernetes cluster's OIDC issuer
does (sign service-account tokens with a key it publishes as a JWKS), in process."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from entrasync_shared.federation import DEFAULT_AUDIENCE


class WorkloadIssuer:
    """An OIDC issuer with one RSA signing key; `subject` defaults to a service account."""

    def __init__(self, issuer: str | None = None, subject: str | None = None) -> None:
        self.issuer = issuer or f"https://oidc.cluster.test/{uuid.uuid4()}/"
        self.subject = subject or "system:serviceaccount:entrasync:entrasync-syncer"
        self.kid = uuid.uuid4().hex[:16]
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        """The published keys, as `<issuer>/openid/v1/jwks` would serve them."""
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def credential(self, **overrides: Any) -> dict[str, Any]:
        """The federated credential an app registration needs to trust this workload."""
        return {"issuer": self.issuer, "subject": self.subject, **overrides}

    def token(self, lifetime: int = 3600, kid: str | None = None, **claims: Any) -> str:
        """A signed service-account token (claims override the defaults)."""
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": [DEFAULT_AUDIENCE],
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            **claims,
        }
        return jwt.encode(body, self._key, algorithm="RS256", headers={"kid": kid or self.kid})

    def write(self, path: Path, **claims: Any) -> Path:
        """Project a fresh token into `path`, as the kubelet does."""
        path.write_text(self.token(**claims))
        return path
