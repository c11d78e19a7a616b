"""Credential profiles: create, read, update, delete, and re-encrypt their secrets.

A profile's secret (or certificate private key) is sealed at once and opened only for a syncer
or a connection test (`open_secret`); every public view goes through `present`.
"""

from __future__ import annotations

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

from entrasync_config.domain.errors import Invalid, NotFound, SecretUnreadable, Unavailable
from entrasync_config.domain.model import SecretBinding, StoredProfile
from entrasync_config.domain.profiles import (
    check_token_file,
    check_version,
    in_use,
    present,
    profile_event_id,
    read_material,
)
from entrasync_config.ports import Deps
from entrasync_config.usecases.events import announce


async def create_profile(request: CredentialProfileCreate, deps: Deps) -> CredentialProfile:
    material = read_material(
        request.client_secret, request.private_key_pem, request.certificate_pem, request.kind
    )
    if material is None:
        raise Invalid(
            "a client_secret, or a private_key_pem with its certificate_pem, is required "
            '(or kind "federated", which takes no secret)',
            field="client_secret",
        )
    check_token_file(material.kind, request.federated_token_file)
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
        federated_token_file=request.federated_token_file,
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


async def update_profile(request: ProfileUpdate, deps: Deps) -> CredentialProfile:
    stored = await stored_profile(request.profile_id, deps)
    old = stored.profile
    check_version("credential profile", old.version, request.version)
    given = request.model_fields_set
    changes: dict[str, object] = {
        name: getattr(request, name) for name in ("name", "client_id") if name in given
    }
    material = read_material(
        request.client_secret, request.private_key_pem, request.certificate_pem, request.kind
    )
    if material is not None and material.kind == old.kind == "federated":
        material = None  # still federated: nothing to replace (a form sends the kind each time)
    if material is not None:
        # A new credential makes the old expiry date meaningless: take the new one's.
        changes.update(
            kind=material.kind,
            certificate_thumbprint=material.thumbprint,
            secret_expires_at=material.not_after,
            federated_token_file=None,
        )
    if "federated_token_file" in given:
        check_token_file(material.kind if material else old.kind, request.federated_token_file)
        changes["federated_token_file"] = request.federated_token_file
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
        raise in_use(profile, users)
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
