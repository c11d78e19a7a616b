"""One Entra directory, one tenant: a directory is known by its GUID, whatever name it was given.

An admin may add a directory by its initial domain, a verified custom domain or its GUID; all
three are the same directory. `tenant.create` resolves the GUID (the OpenID configuration's
issuer names it) and refuses a second tenant for the same GUID and cloud.

When the GUID cannot be resolved at create time (the login host is unreachable from config, or
Entra does not know the name yet), the tenant is still created: refusing would block setting
up entrasync whenever config's network is down, and a name Entra does not know cannot be a
second name of a directory already added. The GUID is recorded later, from the first Test
Connection or the first sync (the syncer reports the token's `tid`); a duplicate found then is
not merged or stopped, since both tenants may already have history, but reported by `health`
and in the log, like duplicates created before this check existed.
"""

from __future__ import annotations

import re

from entrasync_shared.messages import ConnectionTestResult, Tenant

_GUID = re.compile(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}")


def is_guid(value: str | None) -> bool:
    return value is not None and _GUID.fullmatch(value) is not None


def described(tenant: Tenant) -> str:
    return f"{tenant.name!r} ({tenant.tenant}, cloud {tenant.cloud}, id {tenant.id})"


def unsaved_duplicate(result: ConnectionTestResult, holder: Tenant | None) -> ConnectionTestResult:
    """An unsaved form naming a directory that is already a tenant by another name: saving it
    would be refused. The same name is that tenant itself (its own page tests its form, with
    tenant and cloud read-only), so it is not flagged."""
    if holder is None or holder.tenant == result.tenant:
        return result
    message = (
        f"This directory ({result.tenant_guid}) is already added as tenant {described(holder)}; "
        "saving another tenant for it would be refused."
    )
    return result.model_copy(update={"ok": False, "error_code": "conflict", "message": message})


def flag_saved_duplicate(
    result: ConnectionTestResult, other: Tenant | None
) -> ConnectionTestResult:
    """A saved tenant that shares its directory with another one: warn, change nothing."""
    if other is None:
        return result
    warning = (
        f"Warning: tenant {described(other)} is the same directory ({result.tenant_guid}); "
        "delete one of the two so that the directory is synced once."
    )
    return result.model_copy(update={"message": f"{result.message} {warning}"})


def duplicates_warning(groups: list[list[Tenant]]) -> str:
    """One health line naming every directory added more than once."""
    parts = []
    for tenants in groups:
        names = ", ".join(described(t) for t in tenants)
        parts.append(f"{len(tenants)} tenants for one directory: {names}")
    return "; ".join(parts) + "; delete all but one of each"
