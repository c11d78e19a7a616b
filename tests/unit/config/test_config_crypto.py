from __future__ import annotations

import os

import pytest
from config_fakes import CLIENT_ID, make_world
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from entrasync_config import domain
from entrasync_config.adapters.crypto import (
    AesGcmSecretBox,
    BadEncryptionKey,
    SecretUnreadable,
    generate_key,
    parse_key,
    parse_keys,
)
from entrasync_shared.messages import CredentialProfileCreate


def test_a_sealed_secret_opens_only_with_its_key_and_owner() -> None:
    box = AesGcmSecretBox.from_setting(generate_key())
    sealed = box.seal("hush", context="profile-1")

    assert b"hush" not in sealed
    assert box.open(sealed, context="profile-1") == "hush"
    with pytest.raises(SecretUnreadable):
        box.open(sealed, context="profile-2")
    with pytest.raises(SecretUnreadable):
        AesGcmSecretBox.from_setting(generate_key()).open(sealed, context="profile-1")
    with pytest.raises(SecretUnreadable):
        box.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), context="profile-1")


@pytest.mark.parametrize("key", ["", "short", "!" * 44, generate_key()[:-8], "# only a comment"])
def test_a_malformed_encryption_key_is_refused_without_quoting_it(key: str) -> None:
    with pytest.raises(BadEncryptionKey, match="entrasync-config genkey") as refused:
        AesGcmSecretBox.from_setting(key)

    assert not key.strip() or key not in str(refused.value)


def test_a_rotated_box_seals_with_the_newest_key_and_opens_with_any() -> None:
    old, new = generate_key(), generate_key()
    sealed_before = AesGcmSecretBox.from_setting(old).seal("hush", context="p")

    rotated = AesGcmSecretBox.from_setting(f"{new}, {old}")
    sealed_after = rotated.seal("hush", context="p")

    assert rotated.open(sealed_before, context="p") == "hush"
    assert AesGcmSecretBox.from_setting(new).open(sealed_after, context="p") == "hush"
    assert (
        rotated.key_id
        == AesGcmSecretBox.from_setting(new).key_id
        != (AesGcmSecretBox.from_setting(old).key_id)
    )
    with pytest.raises(SecretUnreadable):
        AesGcmSecretBox.from_setting(new).open(sealed_before, context="p")


def test_secrets_written_before_key_ids_existed_still_open() -> None:
    key = generate_key()
    nonce = os.urandom(12)
    legacy = b"\x01" + nonce + AESGCM(parse_key(key)).encrypt(nonce, b"hush", b"p")

    box = AesGcmSecretBox.from_setting(f"{generate_key()}\n{key}")

    assert box.open(legacy, context="p") == "hush"


def test_a_key_file_lists_keys_one_per_line_with_comments() -> None:
    first, second = generate_key(), generate_key()

    keys = parse_keys(f"# rotated 2027-03-01\n{first}\n\n{second}\n{first}\n")

    assert keys == [parse_key(first), parse_key(second)]


async def test_reencryption_moves_every_readable_secret_to_the_newest_key() -> None:
    old, new = generate_key(), generate_key()
    world = make_world(keys=[old])
    for name in ("a", "b"):
        await domain.create_profile(
            CredentialProfileCreate(name=name, client_id=CLIENT_ID, client_secret=f"s-{name}"),
            world.deps,
        )
    rotated = make_world(keys=[new, old])
    rotated.profiles.rows = world.profiles.rows

    first = await domain.reencrypt_secrets(rotated.deps)
    again = await domain.reencrypt_secrets(rotated.deps)

    assert (first.total, first.reencrypted, first.unreadable) == (2, 2, ())
    assert (again.total, again.reencrypted) == (2, 0)
    only_new = AesGcmSecretBox.from_setting(new)
    assert {only_new.open(s.sealed, context=pid) for pid, s in rotated.profiles.rows.items()} == {
        "s-a",
        "s-b",
    }
    assert await rotated.profiles.count_sealed_without(only_new.key_id) == 0


async def test_reencryption_reports_secrets_no_key_opens() -> None:
    world = make_world()
    profile = await domain.create_profile(
        CredentialProfileCreate(name="a", client_id=CLIENT_ID, client_secret="s"), world.deps
    )
    stranger = make_world()
    stranger.profiles.rows = world.profiles.rows

    result = await domain.reencrypt_secrets(stranger.deps)

    assert result.unreadable == (profile.id,) and result.reencrypted == 0
