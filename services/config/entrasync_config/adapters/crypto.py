"""Secrets at rest: AES-256-GCM with rotatable keys from the environment or a mounted file.

Keys are listed newest first: the first seals, every one opens. A sealed secret is
``0x03 || key id (8 bytes) || 12-byte nonce || ciphertext+tag``; the key id is the first 8 bytes
of the key's SHA-256, so the right key is found without trying them all, and it is read from the
blob itself, never from a field stored beside it. The associated data binds the secret to its
owner: the profile id, the profile's version and the credential's kind (`SecretBinding`), so a
ciphertext copied onto another profile, onto an older or newer version of the same profile, or
onto the other kind does not decrypt.

Older formats stay readable until `reencrypt` upgrades them: ``0x02 || key id || nonce || ...``
and, from before key ids existed, ``0x01 || nonce || ...`` (opened by trying each key); both bind
the profile id only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from entrasync_config.domain.errors import SecretUnreadable
from entrasync_config.domain.model import SecretBinding

__all__ = [
    "AesGcmSecretBox",
    "BadEncryptionKey",
    "SecretUnreadable",
    "generate_key",
    "parse_key",
    "parse_keys",
]

_V1, _V2, _V3 = b"\x01", b"\x02", b"\x03"
_V3_LABEL = b"entrasync-config secret v3\x00"
_NONCE_BYTES = 12
_KEY_ID_BYTES = 8
_KEY_BYTES = 32
_SEPARATORS = re.compile(r"[\s,]+")


class BadEncryptionKey(ValueError):
    """A configured key is not 32 URL-safe-base64 bytes (the message never quotes it)."""


def generate_key() -> str:
    """A new random key in the form `ENTRASYNC_CONFIG_ENCRYPTION_KEY` expects."""
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


def parse_key(text: str, label: str = "ENTRASYNC_CONFIG_ENCRYPTION_KEY") -> bytes:
    text = text.strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != _KEY_BYTES:
        raise BadEncryptionKey(
            f"{label} must be 32 random bytes in URL-safe base64; "
            "generate one with `entrasync-config genkey`"
        )
    return key


def parse_keys(text: str, source: str = "ENTRASYNC_CONFIG_ENCRYPTION_KEY") -> list[bytes]:
    """Keys separated by commas, spaces or lines (newest first); `#` starts a comment line."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    parts = [p for p in _SEPARATORS.split("\n".join(lines)) if p]
    if not parts:
        raise BadEncryptionKey(
            f"{source} holds no key; generate one with `entrasync-config genkey`"
        )
    keys = [parse_key(p, f"key {n} of {source}") for n, p in enumerate(parts, start=1)]
    return list(dict.fromkeys(keys))


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).digest()[:_KEY_ID_BYTES].hex()


class AesGcmSecretBox:
    """Seals with the newest key, opens with any; implements the domain's `SecretBox` port."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise BadEncryptionKey("no encryption key configured")
        self._keys = {bytes.fromhex(key_id(k)): AESGCM(k) for k in keys}
        self._newest = bytes.fromhex(key_id(keys[0]))

    @classmethod
    def from_setting(cls, text: str) -> AesGcmSecretBox:
        return cls(parse_keys(text))

    @property
    def key_id(self) -> str:
        return self._newest.hex()

    @property
    def key_ids(self) -> list[str]:
        return [k.hex() for k in self._keys]

    def seal(self, plaintext: str, binding: SecretBinding) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._newest].encrypt(nonce, plaintext.encode(), _aad(binding))
        return _V3 + self._newest + nonce + sealed

    def open(self, sealed: bytes, binding: SecretBinding) -> str:
        version = sealed[:1]
        if version in (_V3, _V2):
            kid = sealed[1 : 1 + _KEY_ID_BYTES]
            body = sealed[1 + _KEY_ID_BYTES :]
            aead = self._keys.get(kid)
            if aead is None:
                raise SecretUnreadable("sealed with a key that is not configured", key_known=False)
            candidates = [aead]
        elif version == _V1:
            body, candidates = sealed[1:], list(self._keys.values())
        else:
            raise SecretUnreadable("unknown sealed-secret format", key_known=False)
        aad = _aad(binding) if version == _V3 else binding.profile_id.encode()
        nonce, ciphertext = body[:_NONCE_BYTES], body[_NONCE_BYTES:]
        for aead in candidates:
            try:
                return aead.decrypt(nonce, ciphertext, aad).decode()
            except InvalidTag:
                continue
        # With the key in hand, a failure means the blob is not this profile's (copied from
        # another profile or version, or altered); a v1 blob cannot tell the two apart.
        raise SecretUnreadable("secret does not decrypt for this profile", key_known=version != _V1)

    def key_id_of(self, sealed: bytes) -> str | None:
        """The id of the key that sealed `sealed`, read from the blob (None for v1 blobs)."""
        if sealed[:1] in (_V3, _V2) and len(sealed) > _KEY_ID_BYTES:
            return sealed[1 : 1 + _KEY_ID_BYTES].hex()
        return None

    def is_current(self, sealed: bytes) -> bool:
        """Sealed in the newest format with the newest key: nothing for `reencrypt` to do."""
        return sealed[:1] == _V3 and self.key_id_of(sealed) == self.key_id


def _aad(binding: SecretBinding) -> bytes:
    owner = [binding.profile_id, binding.version, binding.kind]
    return _V3_LABEL + json.dumps(owner, separators=(",", ":")).encode()
