"""Privileged access: each directory role of a tenant with everyone holding it (paths), and the
role changes of the last days from the public events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Request

from entrasync_console.api.common import Id, Search, router, services
from entrasync_console.core import privileged, role_changes, views
from entrasync_console.core.errors import Problem
from entrasync_console.core.security import console

Days = Annotated[
    int,
    Query(ge=1, le=role_changes.CHANGE_DAYS, description="How many days back (the events kept)"),
]


@router.get(
    "/tenants/{tenant_id}/privileged",
    response_model=privileged.PrivilegedAccess,
    tags=["history"],
    summary="Directory roles with their direct and effective members, each with its path",
    operation_id="listPrivilegedAccess",
)
async def privileged_access(
    request: Request, tenant_id: Id, search: Search = ""
) -> privileged.PrivilegedAccess:
    backend = services(request)
    await views.current_tenant(backend, tenant_id)
    return privileged.access(await privileged.roles_of(backend, tenant_id), search)


@router.get(
    "/tenants/{tenant_id}/privileged/changes",
    response_model=role_changes.RoleChanges,
    tags=["history"],
    summary="Role changes (gained or lost, directly or through a group), newest first",
    operation_id="listRoleChanges",
)
async def recent_changes(
    request: Request, tenant_id: Id, days: Days = role_changes.CHANGE_DAYS, search: Search = ""
) -> role_changes.RoleChanges:
    state = console(request)
    await views.current_tenant(state.services, tenant_id)
    if state.events is None:  # set with `services` when the app starts
        raise Problem(503, "unavailable", "the console is still starting")
    names = await privileged.names_of(state.services, tenant_id)
    found = await role_changes.recent_role_changes(
        state.events, state.settings.names, tenant_id, names, datetime.now(UTC), days
    )
    shown = tuple(role_changes.matching_changes(found.items, search))
    return found.model_copy(update={"items": shown})
