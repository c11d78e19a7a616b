"""Config's rules, pure (no I/O, no awaits): refusals, the values config handles, credential
profiles and certificates, tenant policies, directories, and what a connection test reports.

The use cases that apply them over ports are in `entrasync_config.usecases`.
"""

from entrasync_config.domain.errors import (
    ConfigError,
    Conflict,
    InUse,
    Invalid,
    NotFound,
    ProfileMissing,
    SecretUnreadable,
    Unavailable,
)
from entrasync_config.domain.model import (
    ClientCredential,
    ConfigEvent,
    ProbeFailure,
    SecretBinding,
    StoredProfile,
)

__all__ = [
    "ClientCredential",
    "ConfigError",
    "ConfigEvent",
    "Conflict",
    "InUse",
    "Invalid",
    "NotFound",
    "ProbeFailure",
    "ProfileMissing",
    "SecretBinding",
    "SecretUnreadable",
    "StoredProfile",
    "Unavailable",
]
