"""The Privileged access tab of a tenant page: each directory role with everyone holding it
(directly or through role-assignable groups, with the path), who is eligible for one (PIM), and
the role changes of the last 30 days from the events. One search box filters the tables.

Each half says why it is missing instead of failing the page: history may not answer, and the
events stream is read with the console's own NATS rights.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from entrasync_shared.messages import MAX_SEARCH, PrivilegedRoles
from entrasync_shared.natsutil import ApiCallError
from fastapi import Request

from entrasync_console.core import privileged, role_changes
from entrasync_console.core.errors import Problem
from entrasync_console.core.security import console

Found = tuple[Any, str | None]


async def tenant_privileged(request: Request, tenant_id: str) -> dict[str, Any]:
    """What `_privileged.html` shows for one tenant."""
    state = console(request)
    search = request.query_params.get("search", "")[:MAX_SEARCH]
    try:
        roles: Found = (await privileged.roles_of(state.services, tenant_id), None)
    except ApiCallError as err:
        roles = (PrivilegedRoles(tenant_id=tenant_id, items=()), err.error.message)
    if state.events is None:  # set with `services` when the app starts
        raise Problem(503, "unavailable", "the console is still starting")
    names = privileged.known_names(roles[0])
    try:
        changes: Found = (
            await role_changes.recent_role_changes(
                state.events, state.settings.names, tenant_id, names, datetime.now(UTC)
            ),
            None,
        )
    except ApiCallError as err:
        changes = (None, err.error.message)
    try:
        eligible: Found = (await privileged.eligible_of(state.services, tenant_id), None)
    except ApiCallError as err:
        eligible = ((), err.error.message)
    return privileged_context(roles, changes, search, eligible)


def privileged_context(
    roles: Found, changes: Found, search: str, eligible: Found = ((), None)
) -> dict[str, Any]:
    """The tab's template context from what history and the events said (or why not)."""
    found: PrivilegedRoles = roles[0]
    recent: role_changes.RoleChanges | None = changes[0]
    return {
        "search": search,
        "change_days": role_changes.CHANGE_DAYS,
        "max_change_events": role_changes.MAX_CHANGE_EVENTS,
        "roles": sorted(found.items, key=lambda r: (r.display_name or r.id).casefold()),
        "roles_error": roles[1],
        "members": privileged.access(found, search).members,
        "truncated": [r for r in found.items if r.effective_total > len(r.effective_members)],
        "changes": role_changes.matching_changes(recent.items if recent else (), search),
        "changes_complete": recent.complete if recent else True,
        "changes_error": changes[1],
        "eligible": privileged.matching_eligible(
            privileged.eligible_lines(eligible[0], found), search
        ),
        "eligible_error": eligible[1],
    }
