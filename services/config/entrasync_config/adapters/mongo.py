"""MongoDB storage of credential profiles and tenant policies (PyMongo's async API)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from entrasync_shared.messages import CredentialProfile, Tenant, utcnow
from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from entrasync_config.domain import Conflict

Document = dict[str, Any]


def now_ms() -> datetime:
    """UTC now at BSON's millisecond precision, so stored and replied timestamps agree."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def connect(uri: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(uri, tz_aware=True)


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db.profiles.create_index([("name", ASCENDING)], unique=True, name="name_unique")
    await db.tenants.create_index(
        [("tenant", ASCENDING), ("cloud", ASCENDING)], unique=True, name="tenant_cloud_unique"
    )


def _profile_doc(profile: CredentialProfile, sealed_secret: bytes) -> Document:
    doc = profile.model_dump(exclude={"id"})
    if isinstance(doc["secret_expires_at"], date):
        doc["secret_expires_at"] = doc["secret_expires_at"].isoformat()
    return {"_id": profile.id, **doc, "sealed_secret": sealed_secret}


def _profile(doc: Document) -> CredentialProfile:
    return CredentialProfile.model_validate({**doc, "id": doc["_id"]})


def _tenant(doc: Document) -> Tenant:
    return Tenant.model_validate({**doc, "id": doc["_id"]})


class MongoProfiles:
    """Implements `ProfileStore`; the sealed secret never leaves through `get`/`list`."""

    _PUBLIC = {"sealed_secret": False}

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db.profiles

    async def add(self, profile: CredentialProfile, sealed_secret: bytes) -> None:
        try:
            await self._col.insert_one(_profile_doc(profile, sealed_secret))
        except DuplicateKeyError as err:
            raise Conflict(f"a profile named {profile.name!r} exists", field="name") from err

    async def get(self, profile_id: str) -> CredentialProfile | None:
        doc = await self._col.find_one({"_id": profile_id}, self._PUBLIC)
        return _profile(doc) if doc else None

    async def sealed_secret(self, profile_id: str) -> bytes | None:
        doc = await self._col.find_one({"_id": profile_id}, {"sealed_secret": True})
        return bytes(doc["sealed_secret"]) if doc else None

    async def list(self) -> list[CredentialProfile]:
        return [_profile(doc) async for doc in self._col.find({}, self._PUBLIC).sort("name")]


class MongoTenants:
    """Implements `TenantStore`."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._col = db.tenants

    async def ping(self) -> None:
        await self._db.command("ping")

    async def add(self, tenant: Tenant) -> None:
        doc = {"_id": tenant.id, **tenant.model_dump(mode="python", exclude={"id"})}
        try:
            await self._col.insert_one(doc)
        except DuplicateKeyError as err:
            raise Conflict(
                f"tenant {tenant.tenant!r} is already registered in cloud {tenant.cloud!r}",
                field="tenant",
            ) from err

    async def get(self, tenant_id: str) -> Tenant | None:
        doc = await self._col.find_one({"_id": tenant_id})
        return _tenant(doc) if doc else None

    async def list(self) -> list[Tenant]:
        return [_tenant(doc) async for doc in self._col.find({}).sort("created_at")]

    async def clear_full_scan(self, tenant_id: str, run_id: str, now: datetime) -> Tenant | None:
        cleared = {"full_scan_next": False, "updated_at": now, "full_scan_cleared_by": run_id}
        doc = await self._col.find_one_and_update(
            {"_id": tenant_id, "full_scan_next": True},
            {"$set": cleared, "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await self._col.find_one({"_id": tenant_id, "full_scan_cleared_by": run_id})
        return _tenant(doc) if doc else None
