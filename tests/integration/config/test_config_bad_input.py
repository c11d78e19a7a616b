"""Bad input, case by case: every request gets a clear error reply and changes nothing.

One config service (real NATS, real MongoDB) serves the whole module; before and after each
case the test snapshots everything config stores (profiles, tenants, deleted tenants, outbox)
and the config event stream, and the two must be identical.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import nats
import pytest
from config_helpers import CLIENT_ID, api, result, snapshot
from entrasync_config.adapters.crypto import generate_key
from entrasync_config.main import build_app
from entrasync_config.settings import ConfigSettings
from entrasync_devtools.infra import LocalInfra
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

SECRET = "Bad-Input-Canary~0123456789"
GUID = "0a1b2c3d-0000-4000-8000-00000000000a"
UNKNOWN = "5f3c0000deadbeef0000000000000000"


@dataclass
class Service:
    nc: NatsClient
    db: AsyncDatabase[Any]
    names: Names
    profile: dict[str, Any]
    tenant: dict[str, Any]


@pytest.fixture(scope="module")
async def service(infra: LocalInfra) -> AsyncIterator[Service]:
    names = Names("t" + uuid.uuid4().hex[:10])
    db_name = f"entrasync_{names.prefix}"
    settings = ConfigSettings(
        nats_url=infra.nats_url,
        mongodb_uri=infra.mongodb_uri,
        prefix=names.prefix,
        db=db_name,
        encryption_key=generate_key(),
    )
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    nc = await nats.connect(infra.nats_url)
    async with build_app(settings):
        profile = await result(
            nc,
            names,
            "profile.create",
            {"name": "seed", "client_id": CLIENT_ID, "client_secret": SECRET},
        )
        await result(
            nc,
            names,
            "profile.create",
            {"name": "other", "client_id": CLIENT_ID, "client_secret": SECRET},
        )
        tenant = await result(
            nc,
            names,
            "tenant.create",
            {"tenant": "contoso.onmicrosoft.com", "profile_id": profile["id"]},
        )
        # Move both past version 1, so "version": 1 is stale.
        profile = await result(
            nc,
            names,
            "profile.update",
            {"profile_id": profile["id"], "version": 1, "name": "existing"},
        )
        tenant = await result(
            nc, names, "tenant.update", {"tenant_id": tenant["id"], "version": 1, "name": "Contoso"}
        )
        yield Service(nc, mongo[db_name], names, profile, tenant)
    await nc.drain()
    await mongo.drop_database(db_name)
    await mongo.close()


P, T = "$profile", "$tenant"  # placeholders for the seeded profile's and tenant's ids
LONG = "x" * 10_000
DROP = object()


def profile(**fields: Any) -> dict[str, Any]:
    """A valid `profile.create` body with `fields` changed (`DROP` removes one)."""
    body = {"name": "n", "client_id": CLIENT_ID, "client_secret": SECRET, **fields}
    return {k: v for k, v in body.items() if v is not DROP}


def tenant(**fields: Any) -> dict[str, Any]:
    """A valid `tenant.create` body with `fields` changed (`DROP` removes one)."""
    body = {"tenant": "a.com", "profile_id": P, **fields}
    return {k: v for k, v in body.items() if v is not DROP}


def tenant_update(**fields: Any) -> dict[str, Any]:
    return {"tenant_id": T, "version": 2, **fields}


def profile_update(**fields: Any) -> dict[str, Any]:
    return {"profile_id": P, "version": 2, **fields}


V = "validation"
# fmt: off
CASES: list[tuple[str, str, Any, str, str | None]] = [
    # (case, verb, payload, expected code, expected field)
    ("malformed json", "profile.create", b"{not json", V, None),
    ("truncated json", "tenant.create", b'{"tenant": "a.com", "profile_id": ', V, None),
    ("json array body", "profile.create", b"[]", V, None),
    ("json string body", "tenant.create", b'"contoso.com"', V, None),
    ("json null body", "tenant.get", b"null", V, None),
    ("not utf-8", "tenant.create", b"\xff\xfe{}", V, None),
    ("oversized request", "tenant.create", tenant(name="x" * 70_000), V, None),
    ("empty profile", "profile.create", {}, V, "name"),
    ("name wrong type", "profile.create", profile(name=7), V, "name"),
    ("name empty", "profile.create", profile(name=""), V, "name"),
    ("name blank", "profile.create", profile(name="   "), V, "name"),
    ("name oversized", "profile.create", profile(name=LONG), V, "name"),
    ("name log injection", "profile.create", profile(name="ok\nERROR forged"), V, "name"),
    ("name nul byte", "profile.create", profile(name="a\u0000b"), V, "name"),
    ("client id not a guid", "profile.create", profile(client_id="1 OR 1=1"), V, "client_id"),
    ("client id operator", "profile.create", profile(client_id={"$gt": ""}), V, "client_id"),
    ("client id trailing newline", "profile.create", profile(client_id=f"{CLIENT_ID}\n"), V,
     "client_id"),
    ("secret wrong type", "profile.create", profile(client_secret=12345), V, "client_secret"),
    ("secret empty", "profile.create", profile(client_secret=""), V, "client_secret"),
    ("secret oversized", "profile.create", profile(client_secret=SECRET + LONG), V,
     "client_secret"),
    ("secret with spaces", "profile.create", profile(client_secret=f" {SECRET} "), V,
     "client_secret"),
    ("no credential", "profile.create", profile(client_secret=DROP), V, "client_secret"),
    ("secret and key", "profile.create", profile(private_key_pem=SECRET), V, "client_secret"),
    ("certificate without key", "profile.create",
     profile(client_secret=DROP, certificate_pem="-----BEGIN CERTIFICATE-----"), V,
     "private_key_pem"),
    ("garbage pem pair", "profile.create",
     profile(client_secret=DROP, private_key_pem=SECRET, certificate_pem="junk"), V,
     "certificate_pem"),
    ("expiry not a date", "profile.create", profile(secret_expires_at="tomorrow"), V,
     "secret_expires_at"),
    ("expiry impossible date", "profile.create", profile(secret_expires_at="2027-13-45"), V,
     "secret_expires_at"),
    ("unknown profile field", "profile.create", profile(colour="blue"), V, "colour"),
    ("duplicate profile name", "profile.create", profile(name="existing"), "conflict", "name"),
    ("profile list with arguments", "profile.list", {"page": 2}, V, "page"),
    ("unknown profile id", "profile.get", {"profile_id": UNKNOWN}, "not_found", "profile_id"),
    ("profile id operator", "profile.get", {"profile_id": {"$ne": None}}, V, "profile_id"),
    ("profile id oversized", "profile.get", {"profile_id": LONG}, V, "profile_id"),
    ("profile update stale", "profile.update", profile_update(version=1, name="new"),
     "conflict", "version"),
    ("profile update without version", "profile.update", {"profile_id": P, "name": "new"}, V,
     "version"),
    ("profile update version zero", "profile.update", profile_update(version=0), V, "version"),
    ("profile update null name", "profile.update", profile_update(name=None), V, "name"),
    ("profile update client id newline", "profile.update",
     profile_update(client_id=f"{CLIENT_ID}\n"), V, "client_id"),
    ("profile update null secret", "profile.update", profile_update(client_secret=None), V,
     "client_secret"),
    ("profile update taken name", "profile.update", profile_update(name="other"), "conflict",
     "name"),
    ("profile update unknown id", "profile.update", profile_update(profile_id=UNKNOWN),
     "not_found", "profile_id"),
    ("profile delete in use", "profile.delete", {"profile_id": P}, "in_use", "profile_id"),
    ("profile delete unknown", "profile.delete", {"profile_id": UNKNOWN}, "not_found",
     "profile_id"),
    ("profile delete stale", "profile.delete", {"profile_id": P, "version": 1}, "conflict",
     "version"),
    ("tenant not a domain", "tenant.create", tenant(tenant="not a domain"), V, "tenant"),
    ("tenant shell injection", "tenant.create", tenant(tenant="a.com; rm -rf /"), V, "tenant"),
    ("tenant operator string", "tenant.create", tenant(tenant="$where"), V, "tenant"),
    ("tenant operator object", "tenant.create", tenant(tenant={"$gt": ""}), V, "tenant"),
    ("tenant path traversal", "tenant.create", tenant(tenant="../../etc/passwd"), V, "tenant"),
    ("tenant url", "tenant.create", tenant(tenant="https://contoso.com/"), V, "tenant"),
    ("tenant short guid", "tenant.create", tenant(tenant="1234-5678"), V, "tenant"),
    ("tenant oversized domain", "tenant.create", tenant(tenant="a" * 300 + ".com"), V, "tenant"),
    ("tenant homoglyph", "tenant.create", tenant(tenant="c\u043entoso.com"), V, "tenant"),
    ("tenant missing", "tenant.create", tenant(tenant=DROP), V, "tenant"),
    ("unknown cloud", "tenant.create", tenant(cloud="mars"), V, "cloud"),
    ("cloud sql injection", "tenant.create", tenant(cloud="'; DROP TABLE t; --"), V, "cloud"),
    ("cloud wrong type", "tenant.create", tenant(cloud=5), V, "cloud"),
    ("unknown profile for tenant", "tenant.create",
     tenant(profile_id="'; db.dropDatabase(); '"), V, "profile_id"),
    ("profile id object", "tenant.create", tenant(profile_id={"$ne": None}), V, "profile_id"),
    ("interval below minimum", "tenant.create", tenant(interval_seconds=5), V,
     "interval_seconds"),
    ("interval as string", "tenant.create", tenant(interval_seconds="60"), V, "interval_seconds"),
    ("interval as float", "tenant.create", tenant(interval_seconds=60.5), V, "interval_seconds"),
    ("interval huge", "tenant.create", tenant(interval_seconds=10**12), V, "interval_seconds"),
    ("enabled as string", "tenant.create", tenant(enabled="yes"), V, "enabled"),
    ("enabled as number", "tenant.create", tenant(enabled=1), V, "enabled"),
    ("no object types", "tenant.create", tenant(object_types=[]), V, "object_types"),
    ("unknown object type", "tenant.create", tenant(object_types=["user", "printer"]), V,
     "object_types.1"),
    ("object types as string", "tenant.create", tenant(object_types="user"), V, "object_types"),
    ("misspelt filter", "tenant.create", tenant(filters={"exclude_guest": True}), V, "filters"),
    ("group filter not a guid", "tenant.create",
     tenant(filters={"member_of_groups": ["admins"]}), V, "filters"),
    ("group filter trailing newline", "tenant.create",
     tenant(filters={"member_of_groups": [f"{GUID}\n"]}), V, "filters"),
    ("too many group filters", "tenant.create",
     tenant(filters={"member_of_groups": [GUID] * 101}), V, "filters"),
    ("filter flag wrong type", "tenant.create", tenant(filters={"exclude_guests": "no"}), V,
     "filters.exclude_guests"),
    ("tenant name control chars", "tenant.create", tenant(name="a\tb\u202e"), V, "name"),
    ("tenant name oversized", "tenant.create", tenant(name=LONG), V, "name"),
    ("full scan flag on create", "tenant.create", tenant(full_scan_next=False), V,
     "full_scan_next"),
    ("duplicate tenant and cloud", "tenant.create", tenant(tenant="CONTOSO.onmicrosoft.com"),
     "conflict", "tenant"),
    ("unknown tenant id", "tenant.get", {"tenant_id": UNKNOWN}, "not_found", "tenant_id"),
    ("tenant id as list", "tenant.get", {"tenant_id": ["a"]}, V, "tenant_id"),
    ("tenant id operator string", "tenant.get", {"tenant_id": '{"$gt": ""}'}, "not_found",
     "tenant_id"),
    ("change the tenant", "tenant.update", tenant_update(tenant="fabrikam.com"), V, "tenant"),
    ("change the cloud", "tenant.update", tenant_update(cloud="china"), V, "cloud"),
    ("tenant update stale", "tenant.update", tenant_update(version=1, enabled=False),
     "conflict", "version"),
    ("tenant update null enabled", "tenant.update", tenant_update(enabled=None), V, "enabled"),
    ("tenant update unknown profile", "tenant.update", tenant_update(profile_id=UNKNOWN), V,
     "profile_id"),
    ("tenant update interval too low", "tenant.update", tenant_update(interval_seconds=9), V,
     "interval_seconds"),
    ("tenant update unknown field", "tenant.update",
     tenant_update(created_at="2020-01-01T00:00:00Z"), V, "created_at"),
    ("tenant update unknown id", "tenant.update", tenant_update(tenant_id=UNKNOWN, version=1),
     "not_found", "tenant_id"),
    ("tenant delete unknown", "tenant.delete", {"tenant_id": UNKNOWN}, "not_found",
     "tenant_id"),
    ("tenant delete stale", "tenant.delete", {"tenant_id": T, "version": 1}, "conflict",
     "version"),
    ("tenant delete purge as string", "tenant.delete",
     {"tenant_id": T, "purge_history": "true"}, V, "purge_history"),
    ("test unknown tenant", "tenant.test", {"tenant_id": UNKNOWN}, "not_found", "tenant_id"),
    ("test timeout zero", "tenant.test", {"tenant_id": T, "timeout_seconds": 0}, V,
     "timeout_seconds"),
    ("test unsaved unknown cloud", "connection.test", tenant(cloud="mars"), V, "cloud"),
    ("test unsaved unknown profile", "connection.test", tenant(profile_id=UNKNOWN), V,
     "profile_id"),
    ("test unsaved bad tenant", "connection.test", tenant(tenant="a b"), V, "tenant"),
    ("test unsaved timeout too long", "connection.test", tenant(timeout_seconds=1000), V,
     "timeout_seconds"),
    ("credential of unknown tenant", "credential.get", {"tenant_id": UNKNOWN}, "not_found",
     "tenant_id"),
    ("reencrypt with arguments", "keys.reencrypt", {"force": True}, V, "force"),
]
# fmt: on


def fill(payload: Any, service: Service) -> Any:
    if isinstance(payload, bytes):
        return payload
    text = json.dumps(payload)
    text = text.replace(f'"{P}"', json.dumps(service.profile["id"]))
    return json.loads(text.replace(f'"{T}"', json.dumps(service.tenant["id"])))


def test_the_set_holds_at_least_fifty_distinct_cases() -> None:
    assert len(CASES) >= 50 and len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("verb", "payload", "code", "field"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_bad_input_gets_a_clear_error_and_changes_nothing(
    service: Service, verb: str, payload: Any, code: str, field: str | None
) -> None:
    before = await snapshot(service.db, service.nc, service.names)

    reply = await api(service.nc, service.names, verb, fill(payload, service))

    assert reply["ok"] is False and reply["result"] is None
    error = reply["error"]
    assert (error["code"], error["field"]) == (code, field), error
    assert 10 <= len(error["message"]) <= 1000
    assert SECRET not in json.dumps(reply)
    assert await snapshot(service.db, service.nc, service.names) == before
