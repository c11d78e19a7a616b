from __future__ import annotations

import os
from dataclasses import replace

import pytest
from config_fakes import CLIENT_ID, make_world
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from entrasync_config import usecases
from entrasync_config.adapters.crypto import (
    AesGcmSecretBox,
    BadEncryptionKey,
    SecretUnreadable,
    generate_key,
    parse_key,
    parse_keys,
)
from entrasync_config.domain import SecretBinding, Unavailable
from entrasync_shared.messages import (
    CredentialProfileCreate,
    ProfileUpdate,
    TenantCreate,
    TenantRef,
)

P1 = SecretBinding("profile-1", 1, "secret")
P = SecretBinding("p", 1, "secret")


def test_a_sealed_secret_opens_only_with_its_key_and_owner() -> None:
    box = AesGcmSecretBox.from_setting(generate_key())
    sealed = box.seal("hush", P1)

    assert b"hush" not in sealed and sealed[:1] == b"\x03"
    assert box.open(sealed, P1) == "hush"
    with pytest.raises(SecretUnreadable):
        box.open(sealed, SecretBinding("profile-2", 1, "secret"))
    with pytest.raises(SecretUnreadable) as unknown_key:
        AesGcmSecretBox.from_setting(generate_key()).open(sealed, P1)
    with pytest.raises(SecretUnreadable):
        box.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), P1)
    assert not unknown_key.value.key_known


@pytest.mark.parametrize(
    "other",
    [SecretBinding("profile-1", 2, "secret"), SecretBinding("profile-1", 1, "certificate")],
    ids=["another version", "another kind"],
)
def test_a_sealed_secret_opens_only_for_its_version_and_kind(other: SecretBinding) -> None:
    box = AesGcmSecretBox.from_setting(generate_key())

    with pytest.raises(SecretUnreadable) as refused:
        box.open(box.seal("hush", P1), other)

    assert refused.value.key_known


@pytest.mark.parametrize("key", ["", "short", "!" * 44, generate_key()[:-8], "# only a comment"])
def test_a_malformed_encryption_key_is_refused_without_quoting_it(key: str) -> None:
    with pytest.raises(BadEncryptionKey, match="entrasync-config genkey") as refused:
        AesGcmSecretBox.from_setting(key)

    assert not key.strip() or key not in str(refused.value)


def test_a_rotated_box_seals_with_the_newest_key_and_opens_with_any() -> None:
    old, new = generate_key(), generate_key()
    sealed_before = AesGcmSecretBox.from_setting(old).seal("hush", P)

    rotated = AesGcmSecretBox.from_setting(f"{new}, {old}")
    sealed_after = rotated.seal("hush", P)

    assert rotated.open(sealed_before, P) == "hush"
    assert AesGcmSecretBox.from_setting(new).open(sealed_after, P) == "hush"
    assert (
        rotated.key_id
        == AesGcmSecretBox.from_setting(new).key_id
        != (AesGcmSecretBox.from_setting(old).key_id)
    )
    with pytest.raises(SecretUnreadable):
        AesGcmSecretBox.from_setting(new).open(sealed_before, P)


def test_secrets_written_before_key_ids_existed_still_open() -> None:
    key = generate_key()
    nonce = os.urandom(12)
    legacy = b"\x01" + nonce + AESGCM(parse_key(key)).encrypt(nonce, b"hush", b"p")

    box = AesGcmSecretBox.from_setting(f"{generate_key()}\n{key}")

    assert box.open(legacy, P) == "hush"


def test_a_key_file_lists_keys_one_per_line_with_comments() -> None:
    first, second = generate_key(), generate_key()

    keys = parse_keys(f"# rotated 2027-03-01\n{first}\n\n{second}\n{first}\n")

    assert keys == [parse_key(first), parse_key(second)]


async def test_reencryption_moves_every_readable_secret_to_the_newest_key() -> None:
    old, new = generate_key(), generate_key()
    world = make_world(keys=[old])
    for name in ("a", "b"):
        await usecases.create_profile(
            CredentialProfileCreate(name=name, client_id=CLIENT_ID, client_secret=f"s-{name}"),
            world.deps,
        )
    rotated = make_world(keys=[new, old])
    rotated.profiles.rows = world.profiles.rows

    first = await usecases.reencrypt_secrets(rotated.deps)
    again = await usecases.reencrypt_secrets(rotated.deps)

    assert (first.total, first.reencrypted, first.unreadable) == (2, 2, ())
    assert (again.total, again.reencrypted) == (2, 0)
    only_new = AesGcmSecretBox.from_setting(new)
    rows = rotated.profiles.rows.values()
    assert {only_new.open(s.sealed, SecretBinding.of(s.profile)) for s in rows} == {"s-a", "s-b"}
    assert all(only_new.is_current(s.sealed) for s in rows)


async def test_reencryption_reports_secrets_no_key_opens() -> None:
    world = make_world()
    profile = await usecases.create_profile(
        CredentialProfileCreate(name="a", client_id=CLIENT_ID, client_secret="s"), world.deps
    )
    stranger = make_world()
    stranger.profiles.rows = world.profiles.rows

    result = await usecases.reencrypt_secrets(stranger.deps)

    assert result.unreadable == (profile.id,) and result.reencrypted == 0


def legacy(version: int, key: str, plaintext: str, profile_id: str) -> bytes:
    """A blob as config wrote it before bindings carried version and kind (id only)."""
    nonce, raw = os.urandom(12), parse_key(key)
    sealed = AESGCM(raw).encrypt(nonce, plaintext.encode(), profile_id.encode())
    if version == 1:
        return b"\x01" + nonce + sealed
    return b"\x02" + bytes.fromhex(AesGcmSecretBox([raw]).key_id) + nonce + sealed


@pytest.mark.parametrize("version", [1, 2])
async def test_id_only_blobs_stay_readable_and_reencryption_upgrades_them(version: int) -> None:
    key = generate_key()
    world = make_world(keys=[key])
    profile = await usecases.create_profile(
        CredentialProfileCreate(name="a", client_id=CLIENT_ID, client_secret="s-a"), world.deps
    )
    old = legacy(version, key, "s-a", profile.id)
    world.profiles.rows[profile.id] = replace(world.profiles.rows[profile.id], sealed=old)
    binding = SecretBinding.of(profile)
    assert world.deps.box.open(old, binding) == "s-a" and not world.deps.box.is_current(old)

    result = await usecases.reencrypt_secrets(world.deps)

    upgraded = world.profiles.rows[profile.id].sealed
    assert (result.reencrypted, upgraded[:1]) == (1, b"\x03")
    assert world.deps.box.open(upgraded, binding) == "s-a"
    with pytest.raises(SecretUnreadable):
        world.deps.box.open(upgraded, replace(binding, version=2))


async def test_reencryption_trusts_the_key_id_inside_the_blob_not_the_field_beside_it() -> None:
    old, new = generate_key(), generate_key()
    world = make_world(keys=[old])
    for name in ("lied-new", "lied-old"):
        await usecases.create_profile(
            CredentialProfileCreate(name=name, client_id=CLIENT_ID, client_secret=name), world.deps
        )
    rotated = make_world(keys=[new, old])
    rotated.profiles.rows = world.profiles.rows
    rows = rotated.profiles.rows
    lied_new, lied_old = list(rows)
    # One blob sealed with the old key claims the new key; one sealed anew claims the old key.
    rows[lied_new] = replace(rows[lied_new], key_id=rotated.deps.box.key_id)
    fresh = rotated.deps.box.seal("lied-old", SecretBinding.of(rows[lied_old].profile))
    rows[lied_old] = replace(rows[lied_old], sealed=fresh)

    result = await usecases.reencrypt_secrets(rotated.deps)

    assert (result.total, result.reencrypted) == (2, 1)
    assert rows[lied_old].sealed == fresh
    only_new = AesGcmSecretBox.from_setting(new)
    assert only_new.open(rows[lied_new].sealed, SecretBinding.of(rows[lied_new].profile)) == (
        "lied-new"
    )


async def test_an_older_secret_put_back_is_refused_with_a_clear_error() -> None:
    world = make_world()
    profile = await usecases.create_profile(
        CredentialProfileCreate(name="a", client_id=CLIENT_ID, client_secret="old"), world.deps
    )
    tenant = await usecases.create_tenant(
        TenantCreate(tenant="contoso.onmicrosoft.com", profile_id=profile.id), world.deps
    )
    old = world.profiles.rows[profile.id]
    await usecases.update_profile(
        ProfileUpdate(profile_id=profile.id, version=1, client_secret="new"), world.deps
    )
    current = world.profiles.rows[profile.id]
    world.profiles.rows[profile.id] = replace(current, sealed=old.sealed)

    with pytest.raises(Unavailable, match="altered or put back from an older copy") as refused:
        await usecases.get_credential(TenantRef(tenant_id=tenant.id), world.deps)

    assert "old" not in refused.value.message.replace("older", "")


async def test_an_update_reseals_an_unchanged_secret_for_the_new_version() -> None:
    world = make_world()
    profile = await usecases.create_profile(
        CredentialProfileCreate(name="a", client_id=CLIENT_ID, client_secret="same"), world.deps
    )
    before = world.profiles.rows[profile.id].sealed

    renamed = await usecases.update_profile(
        ProfileUpdate(profile_id=profile.id, version=1, name="b"), world.deps
    )

    after = world.profiles.rows[profile.id].sealed
    assert after != before
    assert world.deps.box.open(after, SecretBinding.of(renamed)) == "same"
    with pytest.raises(SecretUnreadable):
        world.deps.box.open(before, SecretBinding.of(renamed))


async def test_a_secret_whose_kind_was_switched_in_the_database_is_refused() -> None:
    world = make_world()
    profile = await usecases.create_profile(
        CredentialProfileCreate(name="a", client_id=CLIENT_ID, client_secret="s"), world.deps
    )
    tenant = await usecases.create_tenant(
        TenantCreate(tenant="contoso.onmicrosoft.com", profile_id=profile.id), world.deps
    )
    stored = world.profiles.rows[profile.id]
    switched = stored.profile.model_copy(update={"kind": "certificate"})
    world.profiles.rows[profile.id] = replace(stored, profile=switched)

    with pytest.raises(Unavailable, match=r"version 1 \(certificate\)"):
        await usecases.get_credential(TenantRef(tenant_id=tenant.id), world.deps)
