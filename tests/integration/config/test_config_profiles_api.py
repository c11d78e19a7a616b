"""Credential profiles over the NATS API: CRUD, events, certificates, expiry flags, in-use."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import bson
import pytest
from config_helpers import CLIENT_ID, api, events, result
from entrasync_shared.messages import utcnow
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from pymongo.asynchronous.database import AsyncDatabase
from support.certificates import certificate_pair

pytestmark = pytest.mark.usefixtures("config_service")

SECRET = "Profile-S3cret~value.42"


async def new_profile(nc: NatsClient, names: Names, **fields: Any) -> dict[str, Any]:
    body = {"name": "app", "client_id": CLIENT_ID, "client_secret": SECRET, **fields}
    created: dict[str, Any] = await result(nc, names, "profile.create", body)
    return created


async def test_a_profile_is_created_listed_fetched_updated_and_deleted_with_events(
    nc: NatsClient, names: Names, config_db: AsyncDatabase[Any]
) -> None:
    created = await new_profile(nc, names)
    fetched = await result(nc, names, "profile.get", {"profile_id": created["id"]})
    listed = await result(nc, names, "profile.list", {})
    updated = await result(
        nc,
        names,
        "profile.update",
        {"profile_id": created["id"], "version": 1, "name": "renamed", "client_secret": "new-one"},
    )
    deleted = await result(nc, names, "profile.delete", {"profile_id": created["id"], "version": 2})

    assert fetched == created and listed == [created]
    assert (updated["name"], updated["version"], updated["kind"]) == ("renamed", 2, "secret")
    assert deleted == updated
    assert await config_db.profiles.count_documents({}) == 0
    published = await events(nc, names, names.profile_events)
    assert [e["profile"]["version"] for e in published[:2]] == [1, 2]
    assert published[2] == {**published[2], "profile_id": created["id"], "name": "renamed"}
    for secret in (SECRET, "new-one"):
        assert secret not in str(published) + str(created) + str(updated)
    with pytest.raises(AssertionError):
        await result(nc, names, "profile.get", {"profile_id": created["id"]})


async def test_secrets_are_sealed_at_rest_with_the_key_id(
    nc: NatsClient, names: Names, config_db: AsyncDatabase[Any]
) -> None:
    created = await new_profile(nc, names)

    [stored] = await config_db.profiles.find().to_list()

    assert SECRET.encode() not in bson.encode(stored)
    assert stored["key_id"] and stored["sealed_secret"][:1] == b"\x03"
    assert stored["_id"] == created["id"]


async def test_a_certificate_profile_stores_the_key_sealed_and_shows_only_the_thumbprint(
    nc: NatsClient, names: Names, config_db: AsyncDatabase[Any]
) -> None:
    key, certificate = certificate_pair(days=10)
    body = {"private_key_pem": key, "certificate_pem": certificate, "client_secret": None}

    created = await new_profile(nc, names, **body)

    assert created["kind"] == "certificate" and len(created["certificate_thumbprint"]) == 40
    assert created["expires_soon"] and not created["expired"]
    assert created["secret_expires_at"] == (utcnow() + timedelta(days=10)).date().isoformat()
    key_body = key.splitlines()[1]
    assert key_body not in str(created)
    [stored] = await config_db.profiles.find().to_list()
    assert key_body.encode() not in bson.encode(stored)
    assert stored["certificate_pem"] == certificate


@pytest.mark.parametrize(
    ("days", "soon", "expired"), [(90, False, False), (29, True, False), (-1, True, True)]
)
async def test_a_secret_expiring_within_30_days_is_flagged_in_list_and_get(
    nc: NatsClient, names: Names, days: int, soon: bool, expired: bool
) -> None:
    expires = (date.today() + timedelta(days=days)).isoformat()
    created = await new_profile(nc, names, secret_expires_at=expires)

    [listed] = await result(nc, names, "profile.list", {})
    fetched = await result(nc, names, "profile.get", {"profile_id": created["id"]})

    for shown in (created, listed, fetched):
        assert (shown["expires_soon"], shown["expired"]) == (soon, expired)


async def test_a_profile_used_by_tenants_is_not_deleted_and_the_error_names_them(
    nc: NatsClient, names: Names, config_db: AsyncDatabase[Any]
) -> None:
    profile = await new_profile(nc, names)
    for tenant in ("contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"):
        await result(nc, names, "tenant.create", {"tenant": tenant, "profile_id": profile["id"]})

    reply = await api(nc, names, "profile.delete", {"profile_id": profile["id"]})

    assert (reply["error"]["code"], reply["error"]["field"]) == ("in_use", "profile_id")
    assert "contoso.onmicrosoft.com" in reply["error"]["message"]
    assert "fabrikam.onmicrosoft.com" in reply["error"]["message"]
    assert await config_db.profiles.count_documents({}) == 1
    assert await events(nc, names, names.profile_event("deleted")) == []


async def test_a_stale_profile_update_is_a_conflict(nc: NatsClient, names: Names) -> None:
    profile = await new_profile(nc, names)
    await result(
        nc, names, "profile.update", {"profile_id": profile["id"], "version": 1, "name": "b"}
    )

    stale = await api(
        nc, names, "profile.update", {"profile_id": profile["id"], "version": 1, "name": "c"}
    )

    assert (stale["error"]["code"], stale["error"]["field"]) == ("conflict", "version")
    fetched = await result(nc, names, "profile.get", {"profile_id": profile["id"]})
    assert (fetched["name"], fetched["version"]) == ("b", 2)


async def test_a_new_secret_reaches_the_syncer_through_credential_get(
    nc: NatsClient, names: Names
) -> None:
    profile = await new_profile(nc, names)
    tenant = await result(
        nc, names, "tenant.create", {"tenant": "contoso.com", "profile_id": profile["id"]}
    )
    await result(
        nc,
        names,
        "profile.update",
        {"profile_id": profile["id"], "version": 1, "client_secret": "rotated-secret"},
    )

    credential = await result(nc, names, "credential.get", {"tenant_id": tenant["id"]})

    assert credential["client_secret"] == "rotated-secret" and credential["kind"] == "secret"


async def test_a_certificate_credential_reaches_the_syncer_with_its_thumbprint(
    nc: NatsClient, names: Names
) -> None:
    key, certificate = certificate_pair()
    profile = await new_profile(
        nc, names, client_secret=None, private_key_pem=key, certificate_pem=certificate
    )
    tenant = await result(
        nc, names, "tenant.create", {"tenant": "contoso.com", "profile_id": profile["id"]}
    )

    credential = await result(nc, names, "credential.get", {"tenant_id": tenant["id"]})

    assert credential["kind"] == "certificate" and credential["client_secret"] is None
    assert (credential["private_key_pem"], credential["certificate_pem"]) == (key, certificate)
    assert credential["certificate_thumbprint"] == profile["certificate_thumbprint"]
