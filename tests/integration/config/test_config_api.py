from __future__ import annotations

from typing import Any

import bson
import pytest
from config_helpers import LAB_CA, request, stream_messages
from entrasync_shared.messages import (
    Credential,
    CredentialProfile,
    CredentialProfileCreate,
    Health,
    Tenant,
    TenantCreate,
    TenantCreated,
    TenantRef,
)
from entrasync_shared.natsutil import ApiCallError, call
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.usefixtures("config_service")

SECRET = "Very-S3cret-Value~42"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"


async def create_profile(nc: NatsClient, names: Names, name: str = "lab-app") -> CredentialProfile:
    body = CredentialProfileCreate(name=name, client_id=CLIENT_ID, client_secret=SECRET)
    return await call(nc, names.api("config", "profile.create"), body, CredentialProfile)


async def create_tenant(nc: NatsClient, names: Names, profile_id: str, **extra: Any) -> Tenant:
    body = TenantCreate(tenant="contoso.onmicrosoft.com", profile_id=profile_id, **extra)
    return await call(nc, names.api("config", "tenant.create"), body, Tenant)


async def test_a_new_tenant_is_stored_with_full_scan_next_and_announced(
    nc: NatsClient, names: Names
) -> None:
    profile = await create_profile(nc, names)
    tenant = await create_tenant(nc, names, profile.id, interval_seconds=10)

    assert tenant.name == "contoso.onmicrosoft.com"
    assert (tenant.full_scan_next, tenant.enabled, tenant.version) == (True, True, 1)
    assert len(tenant.id) == 32
    [msg] = await stream_messages(nc, names.config_stream, names.tenant_event("created"))
    event = TenantCreated.model_validate_json(msg.data or b"")
    assert event.tenant == tenant
    assert (msg.headers or {})["Nats-Msg-Id"] == event.id
    listed: list[Tenant] = await call(nc, names.api("config", "tenant.list"), None, list[Tenant])
    ref = TenantRef(tenant_id=tenant.id)
    fetched: Tenant = await call(nc, names.api("config", "tenant.get"), ref, Tenant)
    assert listed == [tenant] and fetched == tenant


async def test_the_secret_is_encrypted_at_rest_and_never_echoed(
    nc: NatsClient, names: Names, config_db: AsyncDatabase[Any]
) -> None:
    payload = {"name": "app", "client_id": CLIENT_ID, "client_secret": SECRET}
    created = await request(nc, names.api("config", "profile.create"), payload)
    listed = await request(nc, names.api("config", "profile.list"), {})

    assert created["ok"] and listed["ok"]
    assert SECRET not in str(created) and SECRET not in str(listed)
    assert listed["result"][0]["id"] == created["result"]["id"]
    [stored] = await config_db.profiles.find().to_list()
    assert SECRET.encode() not in bson.encode(stored)
    assert SECRET.encode() not in bytes(stored["sealed_secret"])


async def test_credential_get_hands_out_the_secret_and_the_resolved_cloud(
    nc: NatsClient, names: Names
) -> None:
    profile = await create_profile(nc, names)
    tenant = await create_tenant(nc, names, profile.id, cloud="lab")

    credential: Credential = await call(
        nc, names.api("config", "credential.get"), TenantRef(tenant_id=tenant.id), Credential
    )

    assert credential.client_secret.get_secret_value() == SECRET
    assert credential.client_id == CLIENT_ID
    assert credential.cloud.graph_url == "https://graph.lab.test"
    assert credential.cloud.ca_pem == LAB_CA


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tenant": "not a domain"}, "tenant"),
        ({"cloud": "nowhere"}, "cloud"),
        ({"profile_id": "missing"}, "profile_id"),
        ({"interval_seconds": 5}, "interval_seconds"),
        ({"object_types": ["user", "printer"]}, "object_types.1"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_a_bad_tenant_is_refused_naming_the_field_and_nothing_is_stored(
    nc: NatsClient,
    names: Names,
    config_db: AsyncDatabase[Any],
    change: dict[str, Any],
    field: str,
) -> None:
    profile = await create_profile(nc, names)
    payload = {"tenant": "contoso.onmicrosoft.com", "profile_id": profile.id, **change}

    reply = await request(nc, names.api("config", "tenant.create"), payload)

    assert reply["ok"] is False
    assert (reply["error"]["code"], reply["error"]["field"]) == ("validation", field)
    assert await config_db.tenants.count_documents({}) == 0
    assert await stream_messages(nc, names.config_stream, names.tenant_events) == []


async def test_malformed_json_is_an_invalid_request_not_a_crash(
    nc: NatsClient, names: Names, config_db: AsyncDatabase[Any]
) -> None:
    reply = await request(nc, names.api("config", "profile.create"), b"{not json")
    bad_id = await request(
        nc,
        names.api("config", "profile.create"),
        {"name": "x", "client_id": "nope", "client_secret": SECRET},
    )

    assert reply["error"]["code"] == "validation"
    assert (bad_id["error"]["code"], bad_id["error"]["field"]) == ("validation", "client_id")
    assert SECRET not in str(bad_id)
    assert await config_db.profiles.count_documents({}) == 0
    health: Health = await call(nc, names.api("config", "health"), None, Health)
    assert health.ok


async def test_a_tenant_is_registered_once_per_cloud(nc: NatsClient, names: Names) -> None:
    profile = await create_profile(nc, names)
    await create_tenant(nc, names, profile.id)
    await create_tenant(nc, names, profile.id, cloud="usgov")

    with pytest.raises(ApiCallError) as refused:
        await create_tenant(nc, names, profile.id)

    assert (refused.value.error.code, refused.value.error.field) == ("conflict", "tenant")
    with pytest.raises(ApiCallError) as duplicate_profile:
        await create_profile(nc, names)
    assert duplicate_profile.value.error.code == "conflict"


async def test_an_unknown_tenant_is_not_found(nc: NatsClient, names: Names) -> None:
    for verb in ("tenant.get", "credential.get"):
        with pytest.raises(ApiCallError) as missing:
            await call(nc, names.api("config", verb), TenantRef(tenant_id="nope"), Tenant)
        assert missing.value.error.code == "not_found"


async def test_a_federated_profile_is_stored_without_any_secret_and_credential_get_names_its_file(
    nc: NatsClient, names: Names, config_db: AsyncDatabase[Any]
) -> None:
    token_file = "/var/run/secrets/azure/tokens/azure-identity-token"
    body = CredentialProfileCreate(
        name="workload", client_id=CLIENT_ID, kind="federated", federated_token_file=token_file
    )
    profile = await call(nc, names.api("config", "profile.create"), body, CredentialProfile)
    tenant = await create_tenant(nc, names, profile.id, cloud="lab")

    credential: Credential = await call(
        nc, names.api("config", "credential.get"), TenantRef(tenant_id=tenant.id), Credential
    )

    assert (profile.kind, profile.federated_token_file) == ("federated", token_file)
    assert (credential.kind, credential.federated_token_file) == ("federated", token_file)
    assert credential.client_secret is None and credential.private_key_pem is None
    [stored] = await config_db.profiles.find().to_list()
    assert (stored["kind"], stored["federated_token_file"]) == ("federated", token_file)
    assert stored.get("certificate_pem") is None and stored["secret_expires_at"] is None
