"""Credential profiles: create, read, update, delete, and re-encrypt their secrets.

A profile's secret (or certificate private key) is sealed at once and never leaves this module
except towards a syncer (`credential_material`); every public view goes through `present`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    KeysReencrypted,
    ProfileCreated,
    ProfileDelete,
    ProfileDeleted,
    ProfileRef,
    ProfileUpdate,
    ProfileUpdated,
)
from pydantic import SecretStr

from entrasync_config.domain.certificates import inspect_certificate
from entrasync_config.domain.errors import (
    Conflict,
    InUse,
    Invalid,
    NotFound,
    SecretUnreadable,
    Unavailable,
)
from entrasync_config.domain.events import announce
from entrasync_config.domain.ports import Deps, SecretBinding, StoredProfile

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


async def create_profile(request: CredentialProfileCreate, deps: Deps) -> CredentialProfile:
    material = read_material(
        request.client_secret, request.private_key_pem, request.certificate_pem
    )
    if material is None:
        raise Invalid(
            "a client_secret, or a private_key_pem with its certificate_pem, is required",
            field="client_secret",
        )
    now = deps.now()
    expires = (
        request.secret_expires_at
        if "secret_expires_at" in request.model_fields_set
        else material.not_after
    )
    profile = CredentialProfile(
        id=deps.new_id(),
        name=request.name,
        client_id=request.client_id,
        kind=material.kind,
        secret_expires_at=expires,
        certificate_thumbprint=material.thumbprint,
        version=1,
        created_at=now,
        updated_at=now,
    )
    stored = seal(profile, material.plaintext, material.certificate_pem, deps)
    shown = present(profile, now.date())
    event = ProfileCreated(id=profile_event_id(profile), at=now, profile=shown)
    await deps.profiles.add(stored, event)
    await announce(deps)
    return shown


async def stored_profile(profile_id: str, deps: Deps) -> StoredProfile:
    stored = await deps.profiles.get(profile_id)
    if stored is None:
        raise NotFound(f"no credential profile {profile_id!r}", field="profile_id")
    return stored


def seal(
    profile: CredentialProfile, plaintext: str, certificate_pem: str | None, deps: Deps
) -> StoredProfile:
    """The profile with `plaintext` sealed for exactly this profile, version and kind."""
    sealed = deps.box.seal(plaintext, SecretBinding.of(profile))
    return StoredProfile(profile, sealed, deps.box.key_id, certificate_pem)


def open_secret(stored: StoredProfile, deps: Deps) -> str:
    """The profile's secret (or private key) in clear, for a syncer or a connection test."""
    profile = stored.profile
    try:
        return deps.box.open(stored.sealed, SecretBinding.of(profile))
    except SecretUnreadable as err:
        if err.key_known:
            raise Unavailable(
                f"the stored secret of credential profile {profile.name!r} does not belong to "
                f"its version {profile.version} ({profile.kind}): it was altered or put back "
                "from an older copy in the database; set the secret again"
            ) from None
        raise Unavailable(
            f"the secret of credential profile {profile.name!r} opens with none of the "
            "configured encryption keys: was a key removed before `entrasync-config reencrypt`?"
        ) from None


async def get_profile(ref: ProfileRef, deps: Deps) -> CredentialProfile:
    stored = await stored_profile(ref.profile_id, deps)
    return present(stored.profile, deps.now().date())


async def list_profiles(deps: Deps) -> list[CredentialProfile]:
    today = deps.now().date()
    return [present(profile, today) for profile in await deps.profiles.all_profiles()]


def check_version(kind: str, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise Conflict(
            f"the {kind} was changed meanwhile (it is at version {current}, the request is "
            f"based on version {expected}): reload it and apply the change again",
            field="version",
        )


async def update_profile(request: ProfileUpdate, deps: Deps) -> CredentialProfile:
    stored = await stored_profile(request.profile_id, deps)
    old = stored.profile
    check_version("credential profile", old.version, request.version)
    given = request.model_fields_set
    changes: dict[str, object] = {
        name: getattr(request, name) for name in ("name", "client_id") if name in given
    }
    material = read_material(
        request.client_secret, request.private_key_pem, request.certificate_pem
    )
    if material is not None:
        # A new credential makes the old expiry date meaningless: take the new one's.
        changes.update(
            kind=material.kind,
            certificate_thumbprint=material.thumbprint,
            secret_expires_at=material.not_after,
        )
    if "secret_expires_at" in given:
        changes["secret_expires_at"] = request.secret_expires_at
    changes = {k: v for k, v in changes.items() if getattr(old, k) != v}
    now = deps.now()
    if not changes and material is None:
        return present(old, now.date())
    profile = old.model_copy(update={**changes, "version": old.version + 1, "updated_at": now})
    if material is not None:
        stored = seal(profile, material.plaintext, material.certificate_pem, deps)
    else:
        # The secret is bound to the version: an unchanged one is resealed for the new version.
        stored = seal(profile, open_secret(stored, deps), stored.certificate_pem, deps)
    shown = present(profile, now.date())
    event = ProfileUpdated(id=profile_event_id(profile), at=now, profile=shown)
    await deps.profiles.replace(stored, request.version, event)
    await announce(deps)
    return shown


async def delete_profile(request: ProfileDelete, deps: Deps) -> CredentialProfile:
    stored = await stored_profile(request.profile_id, deps)
    profile = stored.profile
    check_version("credential profile", profile.version, request.version)
    now = deps.now()
    event = ProfileDeleted(
        id=f"profile.{profile.id}.deleted", at=now, profile_id=profile.id, name=profile.name
    )
    users = await deps.profiles.delete(profile.id, profile.version, event)
    if users:
        shown = ", ".join(f"{t.name} ({t.tenant}, {t.cloud})" for t in users[:10])
        more = f" and {len(users) - 10} more" if len(users) > 10 else ""
        raise InUse(
            f"credential profile {profile.name!r} is used by {len(users)} tenant(s): "
            f"{shown}{more}; give them another profile or delete them first",
            field="profile_id",
        )
    await announce(deps)
    return present(profile, now.date())


async def reencrypt_secrets(deps: Deps) -> KeysReencrypted:
    """Seal every secret with the newest key and format (the rotation command); idempotent.

    Whether a secret needs it is read from the blob itself (format and key id inside), never
    from the `key_id` stored beside it, which a database writer could set to anything.
    """
    total = done = 0
    unreadable: list[str] = []
    for stored in await deps.profiles.sealed_secrets():
        total += 1
        if deps.box.is_current(stored.sealed):
            continue
        binding = SecretBinding.of(stored.profile)
        try:
            plaintext = deps.box.open(stored.sealed, binding)
        except SecretUnreadable:
            unreadable.append(stored.profile.id)
            continue
        new = deps.box.seal(plaintext, binding)
        if await deps.profiles.reseal(stored, new, deps.box.key_id):
            done += 1
    return KeysReencrypted(
        key_id=deps.box.key_id, total=total, reencrypted=done, unreadable=tuple(unreadable)
    )
