"""Tenant policies over the NATS API: defaults, updates, optimistic concurrency, delete, events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from config_helpers import CLIENT_ID, api, events, result
from entrasync_shared.messages import Tenant, TenantCreated, TenantDeleted, TenantUpdated
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.usefixtures("config_service")

GROUP = "0a1b2c3d-0000-4000-8000-00000000000a"


async def new_profile(nc: NatsClient, names: Names, name: str = "app") -> str:
    body = {"name": name, "client_id": CLIENT_ID, "client_secret": "s"}
    profile: dict[str, Any] = await result(nc, names, "profile.create", body)
    return str(profile["id"])


async def new_tenant(nc: NatsClient, names: Names, **fields: Any) -> dict[str, Any]:
    profile_id = fields.pop("profile_id", None) or await new_profile(nc, names)
    body = {"tenant": "contoso.onmicrosoft.com", "profile_id": profile_id, **fields}
    tenant: dict[str, Any] = await result(nc, names, "tenant.create", body)
    return tenant


async def test_a_tenant_gets_the_documented_defaults(nc: NatsClient, names: Names) -> None:
    tenant = await new_tenant(nc, names, tenant="  Contoso.OnMicrosoft.com")

    assert tenant["name"] == tenant["tenant"] == "contoso.onmicrosoft.com"
    assert (tenant["cloud"], tenant["enabled"], tenant["full_scan_next"]) == ("global", True, True)
    assert tenant["object_types"] == ["user", "group", "device"]
    assert tenant["interval_seconds"] == 60 and tenant["version"] == 1
    assert tenant["filters"] == {
        "exclude_guests": False,
        "exclude_disabled": False,
        "member_of_groups": [],
    }


async def test_a_tenant_may_be_a_guid_and_carry_filters(nc: NatsClient, names: Names) -> None:
    guid = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"
    filters = {
        "exclude_guests": True,
        "exclude_disabled": True,
        "member_of_groups": [GROUP.upper()],
    }

    tenant = await new_tenant(nc, names, tenant=guid, filters=filters, interval_seconds=10)

    assert tenant["tenant"] == guid.lower() and tenant["interval_seconds"] == 10
    assert tenant["filters"] == {**filters, "member_of_groups": [GROUP]}
    credential = await result(nc, names, "credential.get", {"tenant_id": tenant["id"]})
    assert credential["filters"] == tenant["filters"]


async def test_an_update_changes_mutable_fields_and_is_announced(
    nc: NatsClient, names: Names
) -> None:
    tenant = await new_tenant(nc, names)
    other_profile = await new_profile(nc, names, "other")
    change = {
        "name": "Contoso (prod)",
        "profile_id": other_profile,
        "enabled": False,
        "full_scan_next": False,
        "object_types": ["user", "group"],
        "interval_seconds": 900,
        "filters": {"exclude_guests": True},
        # The whole form sent back: unchanged immutables are fine.
        "tenant": "contoso.onmicrosoft.com",
        "cloud": "global",
    }

    updated = await result(
        nc, names, "tenant.update", {"tenant_id": tenant["id"], "version": 1, **change}
    )

    expected = {**change, "filters": {**tenant["filters"], "exclude_guests": True}}
    assert {k: updated[k] for k in change} == expected
    assert updated["version"] == 2 and updated["created_at"] == tenant["created_at"]
    fetched = await result(nc, names, "tenant.get", {"tenant_id": tenant["id"]})
    assert fetched == updated
    [event] = await events(nc, names, names.tenant_event("updated"))
    assert TenantUpdated.model_validate(event).tenant == Tenant.model_validate(updated)
    assert event["id"] == f"{tenant['id']}.v2"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"tenant": "fabrikam.onmicrosoft.com"}, "tenant"), ({"cloud": "usgov"}, "cloud")],
)
async def test_tenant_and_cloud_cannot_change(
    nc: NatsClient, names: Names, change: dict[str, str], field: str
) -> None:
    tenant = await new_tenant(nc, names)

    reply = await api(
        nc,
        names,
        "tenant.update",
        {"tenant_id": tenant["id"], "version": 1, "enabled": False, **change},
    )

    assert (reply["error"]["code"], reply["error"]["field"]) == ("validation", field)
    assert "cannot change" in reply["error"]["message"]
    assert await result(nc, names, "tenant.get", {"tenant_id": tenant["id"]}) == tenant


async def test_concurrent_updates_from_the_same_version_let_exactly_one_win(
    nc: NatsClient, names: Names
) -> None:
    tenant = await new_tenant(nc, names)

    replies = await asyncio.gather(
        *(
            api(
                nc,
                names,
                "tenant.update",
                {"tenant_id": tenant["id"], "version": 1, "interval_seconds": 100 + n},
            )
            for n in range(6)
        )
    )

    winners = [r for r in replies if r["ok"]]
    assert len(winners) == 1
    assert {r["error"]["code"] for r in replies if not r["ok"]} == {"conflict"}
    fetched = await result(nc, names, "tenant.get", {"tenant_id": tenant["id"]})
    assert fetched == winners[0]["result"] and fetched["version"] == 2
    assert len(await events(nc, names, names.tenant_event("updated"))) == 1


async def test_delete_stops_the_tenant_keeps_an_audit_copy_and_announces_it(
    nc: NatsClient, names: Names, config_db: AsyncDatabase[Any]
) -> None:
    tenant = await new_tenant(nc, names)

    deleted = await result(nc, names, "tenant.delete", {"tenant_id": tenant["id"], "version": 1})

    assert deleted == tenant
    assert await result(nc, names, "tenant.list", {}) == []
    for verb in ("tenant.get", "credential.get", "tenant.test"):
        reply = await api(nc, names, verb, {"tenant_id": tenant["id"]})
        assert reply["error"]["code"] == "not_found"
    [tombstone] = await config_db.tenants_deleted.find().to_list()
    assert tombstone["_id"] == tenant["id"] and tombstone["deleted_at"]
    [event] = await events(nc, names, names.tenant_event("deleted"))
    announced = TenantDeleted.model_validate(event)
    assert (announced.tenant_id, announced.purge_history) == (tenant["id"], False)
    assert announced.tenant == Tenant.model_validate(tenant)


async def test_a_deleted_tenant_can_be_registered_again_under_a_new_id(
    nc: NatsClient, names: Names
) -> None:
    tenant = await new_tenant(nc, names)
    await result(nc, names, "tenant.delete", {"tenant_id": tenant["id"], "purge_history": True})

    again = await new_tenant(nc, names, profile_id=tenant["profile_id"])

    assert again["id"] != tenant["id"] and again["full_scan_next"]
    [event] = await events(nc, names, names.tenant_event("deleted"))
    assert event["purge_history"] is True


async def test_the_list_is_what_the_scheduler_reconciles_from(nc: NatsClient, names: Names) -> None:
    first = await new_tenant(nc, names)
    second = await new_tenant(nc, names, tenant="fabrikam.com", profile_id=first["profile_id"])
    created = [
        TenantCreated.model_validate(e).tenant
        for e in await events(nc, names, names.tenant_event("created"))
    ]

    listed = await result(nc, names, "tenant.list", {})

    assert listed == [first, second]
    assert created == [Tenant.model_validate(t) for t in listed]


async def test_a_profile_delete_racing_tenant_creates_never_orphans_a_tenant(
    nc: NatsClient, names: Names, config_db: AsyncDatabase[Any]
) -> None:
    for round_ in range(5):
        profile_id = await new_profile(nc, names, f"racer-{round_}")
        create, delete = await asyncio.gather(
            api(
                nc,
                names,
                "tenant.create",
                {"tenant": f"r{round_}.example.com", "profile_id": profile_id},
            ),
            api(nc, names, "profile.delete", {"profile_id": profile_id}),
        )
        assert create["ok"] != delete["ok"], (create, delete)
    async for tenant in config_db.tenants.find():
        assert await config_db.profiles.count_documents({"_id": tenant["profile_id"]}) == 1
