"""Secrets at rest: AES-256-GCM with a key from the environment.

A sealed secret is ``version byte || 12-byte nonce || ciphertext+tag``. The owning record's id is
bound as associated data, so a ciphertext copied onto another record does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"
_NONCE_BYTES = 12
_KEY_BYTES = 32


class BadEncryptionKey(ValueError):
    """The configured key is not 32 URL-safe-base64 bytes."""


class SecretUnreadable(Exception):
    """A sealed secret does not open with the configured key (wrong key or tampered data)."""


def generate_key() -> str:
    """A new random key in the form `ENTRASYNC_CONFIG_ENCRYPTION_KEY` expects."""
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


def parse_key(text: str) -> bytes:
    text = text.strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != _KEY_BYTES:
        raise BadEncryptionKey(
            "ENTRASYNC_CONFIG_ENCRYPTION_KEY must be 32 random bytes in URL-safe base64; "
            "generate one with `entrasync-config genkey`"
        )
    return key


class AesGcmSecretBox:
    """Seals and opens secrets; implements the domain's `SecretBox` port."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def from_setting(cls, text: str) -> AesGcmSecretBox:
        return cls(parse_key(text))

    def seal(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, sealed: bytes, context: str) -> str:
        if sealed[:1] != _VERSION:
            raise SecretUnreadable("unknown sealed-secret format")
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, context.encode()).decode()
        except InvalidTag as err:
            raise SecretUnreadable("secret does not decrypt with the configured key") from err
