"""`entrasync-ctl effective members|memberships`: who is effectively in a group, directory role
or administrative unit, and what a principal is effectively in, each with the path that puts it
there (history's effective membership)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from entrasync_console.cli.common import Context, app
from entrasync_console.cli.render import effective_members_table, effective_memberships_table
from entrasync_console.core import effective, ops
from entrasync_console.ports import Services

effective_app = typer.Typer(
    help="Effective membership through nested groups, with paths", no_args_is_help=True
)
app.add_typer(effective_app, name="effective")

Tenant = Annotated[str, typer.Argument(help="Tenant id, name, domain or directory GUID")]


@effective_app.command("members")
def members(
    ctx: typer.Context,
    tenant: Tenant,
    container: Annotated[
        str, typer.Argument(help="Group, directory role or unit: object id or exact name")
    ],
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Who is in CONTAINER, directly or through nested groups (container ← groups ← member)."""
    c: Context = ctx.obj

    async def work(s: Services, nc: Any) -> effective.EffectiveMembersView:
        found = await ops.find_tenant(s, tenant)
        box = await effective.find_container(s, found.id, container)
        return await effective.members_of(s, found.id, box, page, page_size)

    c.emit(c.run(work), effective_members_table)


@effective_app.command("memberships")
def memberships(
    ctx: typer.Context,
    tenant: Tenant,
    principal: Annotated[
        str,
        typer.Argument(
            help="User, group, service principal, device or contact: object id, "
            "exact displayName or userPrincipalName"
        ),
    ],
) -> None:
    """The groups, directory roles and units PRINCIPAL is in, directly or through nested
    groups (container ← groups ← principal)."""
    c: Context = ctx.obj

    async def work(s: Services, nc: Any) -> effective.EffectiveMembershipsView:
        found = await ops.find_tenant(s, tenant)
        who = await effective.find_principal(s, found.id, principal)
        return await effective.memberships_of(s, found.id, who)

    c.emit(c.run(work), effective_memberships_table)
