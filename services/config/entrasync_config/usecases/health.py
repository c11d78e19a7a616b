"""The `health` verb: database reachable, and how many secrets still wait for re-encryption."""

from __future__ import annotations

from entrasync_shared.messages import Health

from entrasync_config.domain.directories import duplicates_warning
from entrasync_config.ports import Deps


async def check_health(deps: Deps) -> Health:
    try:
        await deps.tenants.ping()
        stored = await deps.profiles.sealed_secrets()
        stale = sum(1 for s in stored if not deps.box.is_current(s.sealed))
        duplicates = await deps.tenants.duplicate_directories()
    except Exception as err:
        return Health(service="config", ok=False, details={"database": type(err).__name__})
    details = {"database": "ok", "key_id": deps.box.key_id, "secrets_on_old_keys": str(stale)}
    if duplicates:
        # Reported, not merged: both tenants may have history, and only an admin knows which
        # one to keep.
        details["duplicate_directories"] = str(len(duplicates))
        details["warning"] = duplicates_warning(duplicates)
    return Health(service="config", ok=True, details=details)
