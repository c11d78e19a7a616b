"""App credentials: client secrets with an expiry, and certificates for `client_assertion`."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ALGORITHMS = ["RS256", "PS256"]


@dataclass(frozen=True)
class AppCertificate:
    """A self-signed certificate registered on an app, with the private key its owner holds."""

    cert_pem: str
    key_pem: str
    sha1_hex: str
    sha256_hex: str
    public_key: PublicKeyTypes = field(repr=False, compare=False)

    def matches(self, header: dict[str, Any]) -> bool:
        """Whether a JWT header's `x5t` or `x5t#S256` names this certificate."""
        wanted = {("x5t", self.sha1_hex), ("x5t#S256", self.sha256_hex)}
        for name, hex_value in wanted:
            value = header.get(name)
            if isinstance(value, str) and _thumbprint_hex(value) == hex_value:
                return True
        return False


def _thumbprint_hex(value: str) -> str:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex().upper()
    except ValueError:
        return ""


_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]
_NOT_BEFORE = datetime(2024, 1, 1, tzinfo=UTC)


def _probably_prime(n: int, rng: random.Random) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return False
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(8):  # ample for random candidates (error rate far below 4**-8)
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int, exponent: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if candidate % exponent != 1 and _probably_prime(candidate, rng):
            return candidate


def seeded_rsa_key(rng: random.Random) -> rsa.RSAPrivateKey:
    """An RSA-2048 key derived from `rng` alone: the same seed gives the same key."""
    e = 65537
    p, q = _prime(rng, 1024, e), _prime(rng, 1024, e)
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q)
    )
    return numbers.private_key()


def make_certificate(common_name: str, rng: random.Random | None = None) -> AppCertificate:
    """An RSA-2048 key and a self-signed certificate; reproducible when `rng` is given."""
    if rng is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        serial = x509.random_serial_number()
    else:
        key = seeded_rsa_key(rng)
        serial = rng.getrandbits(63) + 1
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_BEFORE + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return AppCertificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=key_pem.decode(),
        sha1_hex=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - x5t is SHA-1
        sha256_hex=cert.fingerprint(hashes.SHA256()).hex().upper(),
        public_key=cert.public_key(),
    )


class AssertionRefused(Exception):
    """A client assertion Entra would refuse: `code` (AADSTS number) and Entra's text."""

    def __init__(self, status: int, error: str, code: int, text: str) -> None:
        super().__init__(text)
        self.status, self.error, self.code, self.text = status, error, code, text


def assertion_header(assertion: str) -> dict[str, Any]:
    """The unverified JOSE header, or AssertionRefused for a token that is not a JWT."""
    try:
        return dict(jwt.get_unverified_header(assertion))
    except jwt.PyJWTError:
        raise AssertionRefused(
            400, "invalid_request", 50027, "JWT token is invalid or malformed."
        ) from None


def check_assertion(
    assertion: str,
    certificate: AppCertificate,
    client_id: str,
    audiences: set[str],
    now: int,
) -> None:
    """Verify signature, audience, issuer/subject and lifetime like Entra does."""
    try:
        claims = jwt.decode(
            assertion,
            certificate.public_key,  # type: ignore[arg-type]
            algorithms=_ALGORITHMS,
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise AssertionRefused(
            401, "invalid_client", 700027, "Client assertion failed signature validation."
        ) from None
    except jwt.PyJWTError:
        raise AssertionRefused(
            400, "invalid_request", 50027, "JWT token is invalid or malformed."
        ) from None
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise AssertionRefused(
            401,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        )
    audience = claims.get("aud")
    if audience not in audiences:
        raise AssertionRefused(
            401,
            "invalid_client",
            700212,
            f"No matching federated identity record found for presented assertion audience "
            f"'{audience}'.",
        )
    expires, not_before = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if not isinstance(expires, int | float) or expires <= now or not_before > now + 300:
        raise AssertionRefused(
            401,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        )
