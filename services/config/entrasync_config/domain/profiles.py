"""Credential profiles' rules: the public view, event ids, reading a new credential from a
request, optimistic concurrency, and the refusal to delete a profile in use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from entrasync_shared.messages import CredentialKind, CredentialProfile, Tenant
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
    """A new credential as given: the secret or private key, plus certificate facts. A
    federated one has no secret: its plaintext is empty (the token is read where it runs)."""

    kind: CredentialKind
    plaintext: str = field(repr=False)
    certificate_pem: str | None = field(default=None, repr=False)
    thumbprint: str | None = None
    not_after: date | None = None


FEDERATED = Material("federated", "")


def read_material(
    secret: SecretStr | None,
    key: SecretStr | None,
    certificate: str | None,
    kind: CredentialKind | None = None,
) -> Material | None:
    """The credential a request carries, validated; None when it carries none.

    `kind` is the kind the request names, if any: "federated" takes no secret at all; a named
    "secret" or "certificate" must match the fields given.
    """
    if kind == "federated":
        if secret is not None or key is not None or certificate is not None:
            raise Invalid(
                "a federated profile holds no secret: leave out client_secret, private_key_pem "
                "and certificate_pem (the token comes from the workload's token file)",
                field="kind",
            )
        return FEDERATED
    material = _secret_or_certificate(secret, key, certificate)
    if kind is not None and (material is None or material.kind != kind):
        needs = "client_secret" if kind == "secret" else "private_key_pem with certificate_pem"
        raise Invalid(f"a {kind} profile needs {needs}", field="kind")
    return material


def _secret_or_certificate(
    secret: SecretStr | None, key: SecretStr | None, certificate: str | None
) -> Material | None:
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


def check_token_file(kind: CredentialKind, token_file: str | None) -> None:
    """Only a federated profile names a token file."""
    if token_file is not None and kind != "federated":
        raise Invalid(
            f"federated_token_file belongs to federated profiles, not to a {kind} profile",
            field="federated_token_file",
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
