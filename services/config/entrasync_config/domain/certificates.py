"""Checks on a certificate credential: parseable PEMs, an RSA key that matches the certificate.

Entra signs nothing here; MSAL signs the client assertion with the key (RS256/PS256), so only RSA
keys work. Error messages never quote the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from entrasync_config.domain.errors import Invalid


@dataclass(frozen=True)
class CertificateInfo:
    thumbprint: str
    """SHA-1 thumbprint, upper-case hex, as the Azure portal shows it and MSAL takes it."""
    not_after: date


def inspect_certificate(private_key_pem: str, certificate_pem: str) -> CertificateInfo:
    """Validate the pair; raises `Invalid` naming the field at fault."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        raise Invalid(
            "certificate_pem is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
            field="certificate_pem",
        ) from None
    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise Invalid(
            "private_key_pem is not an unencrypted PEM private key", field="private_key_pem"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise Invalid(
            "private_key_pem must be an RSA key: Entra ID only accepts RSA client assertions",
            field="private_key_pem",
        )
    public = certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or public.public_numbers() != (
        key.public_key().public_numbers()
    ):
        raise Invalid("private_key_pem does not belong to certificate_pem", field="private_key_pem")
    return CertificateInfo(
        thumbprint=certificate.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - Entra's x5t
        not_after=certificate.not_valid_after_utc.date(),
    )
