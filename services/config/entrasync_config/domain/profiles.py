"""Credential profiles' rules: the public view, event ids, reading a new credential from a
request, optimistic concurrency, and the refusal to delete a profile in use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from entrasync_shared.messages import CredentialProfile, Tenant
from pydantic import SecretStr

from entrasync_config.domain.certificates import inspect_certificate
from entrasync_config.domain.errors import Conflict, InUse, Invalid

EXPIRY_WARNING = timedelta(days=30)


def present(profile: CredentialProfile, today: date) -> CredentialProfile:
    """The public view, flagged when its secret expires within 30 days (or already has)."""
    expires = profile.secret_expires_at
    soon = expires is not None and expires <= today + EXPIRY_WARNING
    expired = expires is not None and expires < today
    return profile.model_copy(update={"expires_soon": soon, "expired": expired})


def profile_event_id(profile: CredentialProfile) -> str:
    return f"profile.{profile.id}.v{profile.version}"


@dataclass(frozen=True)
class Material:
    """A new credential as given: the secret or private key, plus certificate facts."""

    kind: Literal["secret", "certificate"]
    plaintext: str = field(repr=False)
    certificate_pem: str | None = field(default=None, repr=False)
    thumbprint: str | None = None
    not_after: date | None = None


def read_material(
    secret: SecretStr | None, key: SecretStr | None, certificate: str | None
) -> Material | None:
    """The credential a request carries, validated; None when it carries none."""
    if secret is not None and (key is not None or certificate is not None):
        raise Invalid(
            "give either client_secret, or private_key_pem with certificate_pem, not both",
            field="client_secret",
        )
    if secret is not None:
        value = secret.get_secret_value()
        if value != value.strip():
            raise Invalid(
                "client_secret has leading or trailing spaces: paste the secret's value exactly",
                field="client_secret",
            )
        return Material("secret", value)
    if key is None and certificate is None:
        return None
    if key is None:
        raise Invalid("private_key_pem is required with certificate_pem", field="private_key_pem")
    if certificate is None:
        raise Invalid("certificate_pem is required with private_key_pem", field="certificate_pem")
    info = inspect_certificate(key.get_secret_value(), certificate)
    return Material(
        "certificate", key.get_secret_value(), certificate, info.thumbprint, info.not_after
    )


def check_version(kind: str, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise Conflict(
            f"the {kind} was changed meanwhile (it is at version {current}, the request is "
            f"based on version {expected}): reload it and apply the change again",
            field="version",
        )


def in_use(profile: CredentialProfile, users: Sequence[Tenant]) -> InUse:
    """The refusal to delete `profile` while `users` use it (names the first ten)."""
    shown = ", ".join(f"{t.name} ({t.tenant}, {t.cloud})" for t in users[:10])
    more = f" and {len(users) - 10} more" if len(users) > 10 else ""
    return InUse(
        f"credential profile {profile.name!r} is used by {len(users)} tenant(s): "
        f"{shown}{more}; give them another profile or delete them first",
        field="profile_id",
    )
