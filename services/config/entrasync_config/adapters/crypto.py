"""Secrets at rest: AES-256-GCM with rotatable keys from the environment or a mounted file.

Keys are listed newest first: the first seals, every one opens. A sealed secret is
``0x02 || key id (8 bytes) || 12-byte nonce || ciphertext+tag``; the key id is the first 8 bytes
of the key's SHA-256, so the right key is found without trying them all. Records written before
key ids existed (``0x01 || nonce || ciphertext+tag``) are opened by trying each key. The owning
record's id is bound as associated data, so a ciphertext copied onto another record does not
decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from entrasync_config.domain.errors import SecretUnreadable

__all__ = [
    "AesGcmSecretBox",
    "BadEncryptionKey",
    "SecretUnreadable",
    "generate_key",
    "parse_key",
    "parse_keys",
]

_V1, _V2 = b"\x01", b"\x02"
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

    def seal(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._newest].encrypt(nonce, plaintext.encode(), context.encode())
        return _V2 + self._newest + nonce + sealed

    def open(self, sealed: bytes, context: str) -> str:
        if sealed[:1] == _V2:
            kid = sealed[1 : 1 + _KEY_ID_BYTES]
            body = sealed[1 + _KEY_ID_BYTES :]
            aead = self._keys.get(kid)
            candidates = [aead] if aead is not None else []
        elif sealed[:1] == _V1:
            body, candidates = sealed[1:], list(self._keys.values())
        else:
            raise SecretUnreadable("unknown sealed-secret format")
        nonce, ciphertext = body[:_NONCE_BYTES], body[_NONCE_BYTES:]
        for aead in candidates:
            try:
                return aead.decrypt(nonce, ciphertext, context.encode()).decode()
            except InvalidTag:
                continue
        raise SecretUnreadable("secret does not decrypt with any configured key")
