"""Throw-away encryption keys for local runs (the demo and the tests), never for production."""

from __future__ import annotations

import base64
import os


def new_encryption_key() -> str:
    """A fresh 256-bit key, URL-safe base64, as `ENTRASYNC_CONFIG_ENCRYPTION_KEY` expects."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()
