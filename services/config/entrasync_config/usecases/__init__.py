"""Config's use cases: async orchestration of the rules (`domain`) over the ports (`Deps`).

Each takes its request and `Deps`, returns a value and raises `ConfigError`s; none knows NATS,
MongoDB or HTTP.
"""

from entrasync_config.usecases.connection import (
    probe_connection,
    run_tenant_test,
    run_unsaved_test,
)
from entrasync_config.usecases.events import announce
from entrasync_config.usecases.health import check_health
from entrasync_config.usecases.profiles import (
    create_profile,
    delete_profile,
    get_profile,
    list_profiles,
    reencrypt_secrets,
    update_profile,
)
from entrasync_config.usecases.tenants import (
    create_tenant,
    delete_tenant,
    get_credential,
    get_tenant,
    list_tenants,
    record_sync,
    update_tenant,
)

__all__ = [
    "announce",
    "check_health",
    "create_profile",
    "create_tenant",
    "delete_profile",
    "delete_tenant",
    "get_credential",
    "get_profile",
    "get_tenant",
    "list_profiles",
    "list_tenants",
    "probe_connection",
    "record_sync",
    "reencrypt_secrets",
    "run_tenant_test",
    "run_unsaved_test",
    "update_profile",
    "update_tenant",
]
