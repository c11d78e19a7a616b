"""Refusals the API reports as error replies, each with its catalog error code."""

from __future__ import annotations

from entrasync_shared.catalog import ErrorCode
from entrasync_shared.kit.api import ApiFailure


class ConfigError(ApiFailure):
    """A refusal: the caller gets `code` (one of `catalog.ERROR_CODES`), `message`, `field`."""


class Invalid(ConfigError):
    """The request is well-formed JSON but its content is not acceptable."""

    code: ErrorCode = "validation"


class NotFound(ConfigError):
    code: ErrorCode = "not_found"


class Conflict(ConfigError):
    """A unique name is taken, or the change is based on a stale version."""

    code: ErrorCode = "conflict"


class InUse(ConfigError):
    """The record is still referenced (a profile used by tenants)."""

    code: ErrorCode = "in_use"


class Unavailable(ConfigError):
    """Infrastructure (NATS, MongoDB) could not complete the operation; retrying may help."""

    code: ErrorCode = "unavailable"


class ProfileMissing(Invalid):
    """A tenant names a credential profile that does not exist."""

    def __init__(self, profile_id: str) -> None:
        super().__init__(f"no credential profile {profile_id!r}", field="profile_id")


class SecretUnreadable(Exception):
    """A sealed secret does not open: its key is not configured (`key_known` False), or the key
    is there but the secret is not this profile's (copied, rolled back or altered)."""

    def __init__(self, message: str, key_known: bool = False) -> None:
        super().__init__(message)
        self.key_known = key_known
