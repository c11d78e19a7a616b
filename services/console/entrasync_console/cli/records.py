"""`entrasync-ctl profiles …` and `entrasync-ctl tenants …`: the config service's records."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from entrasync_shared.catalog import ConfigApi, SchedulerApi
from entrasync_shared.messages import (
    CredentialProfileCreate,
    ProfileDelete,
    ProfileUpdate,
    Tenant,
    TenantCreate,
    TenantDelete,
    TenantRef,
    TenantUpdate,
)
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES

from entrasync_console.cli.common import (
    Context,
    TypesOption,
    chosen_types,
    err,
    profiles_app,
    tenants_app,
)
from entrasync_console.cli.render import (
    profiles_table,
    subscriptions_table,
    tenants_table,
)
from entrasync_console.core import ops
from entrasync_console.core.views import tenant_views
from entrasync_console.ports import Services

# -- profiles ---------------------------------------------------------------------------------


@profiles_app.command("list")
def profiles_list(ctx: typer.Context) -> None:
    """List the credential profiles (never their secrets)."""
    c: Context = ctx.obj
    c.emit(c.run(lambda s, _: s.call(ConfigApi.profile_list)), profiles_table)


def _read_secret(secret_stdin: bool) -> str | None:
    return sys.stdin.readline().rstrip("\n") if secret_stdin else None


@profiles_app.command("add")
def profiles_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Unique profile name")],
    client_id: Annotated[str, typer.Option(help="Application (client) id")],
    secret_stdin: Annotated[bool, typer.Option(help="Read the client secret from stdin")] = False,
    key_file: Annotated[Path | None, typer.Option(help="PEM private key of a certificate")] = None,
    cert_file: Annotated[Path | None, typer.Option(help="PEM certificate")] = None,
    federated: Annotated[
        bool, typer.Option(help="Workload identity federation: no secret at all")
    ] = False,
    token_file: Annotated[
        str | None,
        typer.Option(
            help="federated: the projected token file (default: AZURE_FEDERATED_TOKEN_FILE)"
        ),
    ] = None,
    expires: Annotated[str | None, typer.Option(help="Secret expiry date (YYYY-MM-DD)")] = None,
) -> None:
    """Add a credential profile with a client secret (stdin), a certificate, or workload
    identity federation (--federated)."""
    c: Context = ctx.obj
    secret = _read_secret(secret_stdin)

    async def work(s: Services, _: Any) -> Any:
        # Validated from the options' text: the secrets become SecretStr, the expiry a date.
        request = CredentialProfileCreate.model_validate(
            {
                "name": name,
                "client_id": client_id,
                "client_secret": secret,
                "private_key_pem": key_file.read_text() if key_file else None,
                "certificate_pem": cert_file.read_text() if cert_file else None,
                "kind": "federated" if federated else None,
                "federated_token_file": token_file,
                "secret_expires_at": expires,
            }
        )
        return await s.call(ConfigApi.profile_create, request)

    c.emit(c.run(work), lambda p, wide: profiles_table([p], wide))


@profiles_app.command("update")
def profiles_update(
    ctx: typer.Context,
    profile: Annotated[str, typer.Argument(help="Profile id or name")],
    name: Annotated[str | None, typer.Option()] = None,
    client_id: Annotated[str | None, typer.Option()] = None,
    secret_stdin: Annotated[bool, typer.Option(help="Read a new secret from stdin")] = False,
    federated: Annotated[
        bool, typer.Option(help="Switch to workload identity federation (drops the secret)")
    ] = False,
    token_file: Annotated[
        str | None,
        typer.Option(help="federated: the projected token file, or 'default'"),
    ] = None,
    expires: Annotated[str | None, typer.Option(help="YYYY-MM-DD, or 'none' to clear")] = None,
) -> None:
    """Change a credential profile."""
    c: Context = ctx.obj
    secret = _read_secret(secret_stdin)

    async def work(s: Services, _: Any) -> Any:
        current = await ops.find_profile(s, profile)
        changes: dict[str, Any] = {"name": name, "client_id": client_id, "client_secret": secret}
        changes = {k: v for k, v in changes.items() if v is not None}
        if federated:
            changes["kind"] = "federated"
        if token_file is not None:
            changes["federated_token_file"] = None if token_file == "default" else token_file
        if expires is not None:
            changes["secret_expires_at"] = None if expires == "none" else expires
        update = ProfileUpdate(profile_id=current.id, version=current.version, **changes)
        return await s.call(ConfigApi.profile_update, update)

    c.emit(c.run(work), lambda p, wide: profiles_table([p], wide))


@profiles_app.command("delete")
def profiles_delete(
    ctx: typer.Context, profile: Annotated[str, typer.Argument(help="Profile id or name")]
) -> None:
    """Delete a credential profile no tenant uses."""
    c: Context = ctx.obj

    async def work(s: Services, _: Any) -> Any:
        current = await ops.find_profile(s, profile)
        return await s.call(
            ConfigApi.profile_delete, ProfileDelete(profile_id=current.id, version=current.version)
        )

    deleted = c.run(work)
    c.emit(deleted, lambda p, _: f"deleted credential profile {p.name} ({p.id})")


# -- tenants ----------------------------------------------------------------------------------

NEAR_REAL_TIME_HELP = "Sync users and groups on Graph change notifications (polled hourly too)"


@tenants_app.command("list")
def tenants_list(ctx: typer.Context) -> None:
    """List the tenants with their profile and last sync."""
    c: Context = ctx.obj

    async def work(s: Services, _: Any) -> Any:
        tenants = await s.call(ConfigApi.tenant_list)
        return await tenant_views(s, tenants)

    c.emit(c.run(work), tenants_table)


@tenants_app.command("add")
def tenants_add(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Verified domain or tenant GUID")],
    profile: Annotated[str, typer.Option(help="Credential profile id or name")],
    cloud: Annotated[str, typer.Option(help="Azure cloud")] = "global",
    name: Annotated[str | None, typer.Option(help="Display name (default: the tenant)")] = None,
    enabled: Annotated[bool, typer.Option("--enabled/--disabled")] = True,
    interval: Annotated[int, typer.Option(help="Seconds between syncs")] = 60,
    near_real_time: Annotated[
        bool, typer.Option("--near-real-time/--no-near-real-time", help=NEAR_REAL_TIME_HELP)
    ] = False,
    types: TypesOption = None,
) -> None:
    """Add an Entra ID Sync policy (a full scan runs first; users, groups and devices unless
    --types says otherwise)."""
    c: Context = ctx.obj
    object_types = chosen_types(types)

    async def work(s: Services, _: Any) -> Any:
        found = await ops.find_profile(s, profile)
        request = TenantCreate(
            tenant=tenant,
            cloud=cloud,
            profile_id=found.id,
            name=name,
            enabled=enabled,
            interval_seconds=interval,
            near_real_time=near_real_time,
            object_types=object_types or DEFAULT_OBJECT_TYPES,
        )
        return (await tenant_views(s, [await s.call(ConfigApi.tenant_create, request)]))[0]

    c.emit(c.run(work), lambda t, wide: tenants_table([t], wide))


@tenants_app.command("update")
def tenants_update(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant id, name or domain")],
    profile: Annotated[str | None, typer.Option(help="Credential profile id or name")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled")] = None,
    full_scan: Annotated[
        bool | None, typer.Option("--full-scan/--no-full-scan", help="Full scan on next run")
    ] = None,
    interval: Annotated[int | None, typer.Option(help="Seconds between syncs")] = None,
    near_real_time: Annotated[
        bool | None,
        typer.Option("--near-real-time/--no-near-real-time", help=NEAR_REAL_TIME_HELP),
    ] = None,
    types: TypesOption = None,
) -> None:
    """Change a policy (tenant and cloud are immutable)."""
    c: Context = ctx.obj
    object_types = chosen_types(types)

    async def work(s: Services, _: Any) -> Any:
        current = await ops.find_tenant(s, tenant)
        changes: dict[str, Any] = {
            "name": name,
            "enabled": enabled,
            "full_scan_next": full_scan,
            "interval_seconds": interval,
            "near_real_time": near_real_time,
        }
        if profile is not None:
            changes["profile_id"] = (await ops.find_profile(s, profile)).id
        changes["object_types"] = object_types
        changes = {k: v for k, v in changes.items() if v is not None}
        update = TenantUpdate(tenant_id=current.id, version=current.version, **changes)
        return (await tenant_views(s, [await s.call(ConfigApi.tenant_update, update)]))[0]

    c.emit(c.run(work), lambda t, wide: tenants_table([t], wide))


@tenants_app.command("subscriptions")
def tenants_subscriptions(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant id, name or domain")],
) -> None:
    """Show a near-real-time tenant's Graph subscriptions and their state."""
    c: Context = ctx.obj

    async def work(s: Services, _: Any) -> Any:
        current = await ops.find_tenant(s, tenant)
        return await s.call(SchedulerApi.subscriptions_list, TenantRef(tenant_id=current.id))

    c.emit(c.run(work), subscriptions_table)


@tenants_app.command("delete")
def tenants_delete(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant id, name or domain")],
    purge_history: Annotated[bool, typer.Option(help="Also erase inventory and history")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete a policy (its Sync History stays unless --purge-history); asks first."""
    c: Context = ctx.obj

    async def work(s: Services, _: Any) -> Any:
        current = await ops.find_tenant(s, tenant)
        if not yes:
            confirm_delete(current, purge_history)
        request = TenantDelete(
            tenant_id=current.id, version=current.version, purge_history=purge_history
        )
        return await s.call(ConfigApi.tenant_delete, request)

    c.emit(c.run(work), lambda t, _: f"deleted tenant {t.name} ({t.id})")


def confirm_delete(tenant: Tenant, purge_history: bool) -> None:
    """Ask on the terminal; without one (a script), refuse and point at --yes."""
    kept = (
        "its inventory and Sync History are erased too"
        if purge_history
        else "its Sync History is kept (read-only)"
    )
    question = f"Delete tenant {tenant.name} ({tenant.tenant}, {tenant.id})? {kept}."
    if not sys.stdin.isatty():
        err.print(f"[red]refused[/red]: {question} Run again with --yes to confirm.")
        raise typer.Exit(2)
    if not typer.confirm(question, default=False, err=True):
        err.print("not deleted")
        raise typer.Exit(1)
