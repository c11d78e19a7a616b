"""Tenant policies' rules: a new tenant, event ids, what an update may change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from entrasync_shared.messages import Tenant, TenantCreate, TenantUpdate, tenant_domain_or_guid

from entrasync_config.domain.errors import Invalid

MUTABLE = (
    "name",
    "profile_id",
    "enabled",
    "full_scan_next",
    "object_types",
    "interval_seconds",
    "filters",
    "near_real_time",
)


def new_tenant(request: TenantCreate, tenant_id: str, now: datetime) -> Tenant:
    return Tenant(
        id=tenant_id,
        name=request.name or request.tenant,
        tenant=request.tenant,
        cloud=request.cloud,
        profile_id=request.profile_id,
        enabled=request.enabled,
        full_scan_next=True,
        object_types=request.object_types,
        interval_seconds=request.interval_seconds,
        filters=request.filters,
        near_real_time=request.near_real_time,
        version=1,
        created_at=now,
        updated_at=now,
    )


def tenant_event_id(tenant: Tenant) -> str:
    """Stable per tenant version, so a retried publish is deduplicated by JetStream."""
    return f"{tenant.id}.v{tenant.version}"


def check_immutable(request: TenantUpdate, tenant: Tenant) -> None:
    given = request.model_fields_set
    if "tenant" in given and request.tenant is not None:
        try:
            wanted = tenant_domain_or_guid(request.tenant)
        except ValueError:
            wanted = request.tenant
        if wanted != tenant.tenant:
            raise Invalid(
                f"the tenant of a policy cannot change (it is {tenant.tenant!r}): "
                "delete this policy and add a new one for another tenant",
                field="tenant",
            )
    if "cloud" in given and request.cloud != tenant.cloud:
        raise Invalid(
            f"the cloud of a policy cannot change (it is {tenant.cloud!r}): "
            "delete this policy and add a new one for another cloud",
            field="cloud",
        )


def changes_of(request: TenantUpdate, tenant: Tenant) -> dict[str, Any]:
    """The mutable fields the request sets to a new value."""
    given = request.model_fields_set
    return {
        name: getattr(request, name)
        for name in MUTABLE
        if name in given and getattr(request, name) != getattr(tenant, name)
    }


NOTIFICATION_URL_VARIABLE = "ENTRASYNC_NOTIFICATION_URL"


def check_near_real_time(tenant: Tenant, changes: dict[str, Any], notifications: bool) -> None:
    """Near real time needs the receiver's public URL, and users or groups to notify about.

    Checked when the setting is turned on (or the types of a tenant that has it change), so a
    tenant saved before the URL was removed can still be edited otherwise.
    """
    if not tenant.near_real_time or not {"near_real_time", "object_types"} & set(changes):
        return
    if not notifications:
        raise Invalid(
            "near real time needs the notification receiver's public URL: set "
            f"{NOTIFICATION_URL_VARIABLE} on config and the scheduler",
            field="near_real_time",
        )
    if not {"user", "group"} & set(tenant.object_types):
        raise Invalid(
            "near real time covers users and groups; this tenant syncs neither",
            field="near_real_time",
        )
