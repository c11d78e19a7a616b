"""Self-signed certificates for credential profiles of the certificate kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def certificate_pair(
    *,
    key_type: Literal["rsa", "ec"] = "rsa",
    days: int = 365,
    other_key: bool = False,
    now: datetime | None = None,
) -> tuple[str, str]:
    """(private key PEM, self-signed certificate PEM), valid from a day before `now` (default:
    the current time) for `days` days. `other_key` returns a key the certificate does not hold,
    `key_type="ec"` one entrasync refuses (Entra app credentials are RSA)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if key_type == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    start = now or datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "entrasync test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - timedelta(days=1))
        .not_valid_after(start + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    if other_key:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()
