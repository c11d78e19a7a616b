"""Config rules: credential profiles, tenant policies, the full-scan flag and Test Connection.

Use cases take their ports (`Deps`) as arguments, return values and raise `ConfigError`s; they
know nothing of NATS, MongoDB or HTTP.
"""

from entrasync_config.domain.connection import probe_connection, run_tenant_test, run_unsaved_test
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
from entrasync_config.domain.health import check_health
from entrasync_config.domain.ports import (
    ClientCredential,
    ConfigEvent,
    Deps,
    EntraProbe,
    ProbeFailure,
    SecretBinding,
    StoredProfile,
)
from entrasync_config.domain.profiles import (
    create_profile,
    delete_profile,
    get_profile,
    list_profiles,
    reencrypt_secrets,
    update_profile,
)
from entrasync_config.domain.tenants import (
    create_tenant,
    delete_tenant,
    get_credential,
    get_tenant,
    list_tenants,
    record_sync,
    update_tenant,
)

__all__ = [
    "ClientCredential",
    "ConfigError",
    "ConfigEvent",
    "Conflict",
    "Deps",
    "EntraProbe",
    "InUse",
    "Invalid",
    "NotFound",
    "ProbeFailure",
    "ProfileMissing",
    "SecretBinding",
    "SecretUnreadable",
    "StoredProfile",
    "Unavailable",
    "check_health",
    "create_profile",
    "create_tenant",
    "delete_profile",
    "delete_tenant",
    "get_credential",
    "get_profile",
    "get_tenant",
    "list_tenants",
    "list_profiles",
    "probe_connection",
    "record_sync",
    "reencrypt_secrets",
    "run_tenant_test",
    "run_unsaved_test",
    "update_profile",
    "update_tenant",
]
