"""Refusals the API reports as error replies with a stable `code`."""

from __future__ import annotations


class ConfigError(Exception):
    """A refusal with a machine-readable `code`, a human `message` and maybe a `field`."""

    code = "error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(ConfigError):
    """The request is well-formed JSON but its content is not acceptable."""

    code = "validation"


class NotFound(ConfigError):
    code = "not_found"


class Conflict(ConfigError):
    """A unique name is taken, or the change is based on a stale version."""

    code = "conflict"


class InUse(ConfigError):
    """The record is still referenced (a profile used by tenants)."""

    code = "in_use"


class Unavailable(ConfigError):
    """Infrastructure (NATS, MongoDB) could not complete the operation; retrying may help."""

    code = "unavailable"


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
