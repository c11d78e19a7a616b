"""MongoDB stores of credential profiles and tenant policies (PyMongo's async API).

Every write is one transaction that also stores its event in the outbox (see `mongo`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from entrasync_shared.messages import CredentialProfile, Tenant
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from entrasync_config.adapters.mongo import Document, Transactions
from entrasync_config.domain import ConfigEvent, Conflict, NotFound, StoredProfile

_PUBLIC_PROFILE = {"sealed_secret": False, "certificate_pem": False, "key_id": False}


# -- profiles -------------------------------------------------------------------------------


def _profile_doc(stored: StoredProfile) -> Document:
    doc = stored.profile.model_dump(exclude={"id", "expires_soon", "expired"})
    if isinstance(doc["secret_expires_at"], date):
        doc["secret_expires_at"] = doc["secret_expires_at"].isoformat()
    doc.update(
        sealed_secret=stored.sealed,
        key_id=stored.key_id,
        certificate_pem=stored.certificate_pem,
    )
    return doc


def _profile(doc: Document) -> CredentialProfile:
    return CredentialProfile.model_validate({**doc, "id": doc["_id"]})


def _stored(doc: Document) -> StoredProfile:
    return StoredProfile(
        profile=_profile(doc),
        sealed=bytes(doc["sealed_secret"]),
        key_id=doc.get("key_id") or "",
        certificate_pem=doc.get("certificate_pem"),
    )


def _name_taken(profile: CredentialProfile) -> Conflict:
    return Conflict(f"a credential profile named {profile.name!r} exists", field="name")


class MongoProfiles(Transactions):
    """Implements `ProfileStore`; `list` never reads sealed secrets."""

    async def add(self, stored: StoredProfile, event: ConfigEvent) -> None:
        async def work(session: AsyncClientSession) -> None:
            doc = {"_id": stored.profile.id, **_profile_doc(stored)}
            try:
                await self._db.profiles.insert_one(doc, session=session)
            except DuplicateKeyError as err:
                raise _name_taken(stored.profile) from err
            await self.outbox(event, session)

        await self.run(work)

    async def get(self, profile_id: str) -> StoredProfile | None:
        doc = await self._db.profiles.find_one({"_id": profile_id})
        return _stored(doc) if doc else None

    async def all_profiles(self) -> list[CredentialProfile]:
        cursor = self._db.profiles.find({}, _PUBLIC_PROFILE).sort("name")
        return [_profile(doc) async for doc in cursor]

    async def replace(
        self, stored: StoredProfile, expected_version: int, event: ConfigEvent
    ) -> None:
        profile = stored.profile

        async def work(session: AsyncClientSession) -> None:
            try:
                done = await self._db.profiles.update_one(
                    {"_id": profile.id, "version": expected_version},
                    {"$set": _profile_doc(stored)},
                    session=session,
                )
            except DuplicateKeyError as err:
                raise _name_taken(profile) from err
            if done.matched_count == 0:
                raise await self._why_not(profile.id, session)
            await self.outbox(event, session)

        await self.run(work)

    async def _why_not(self, profile_id: str, session: AsyncClientSession) -> Exception:
        if await self._db.profiles.count_documents({"_id": profile_id}, session=session):
            return Conflict("the credential profile was changed meanwhile", field="version")
        return NotFound(f"no credential profile {profile_id!r}", field="profile_id")

    async def delete(
        self, profile_id: str, expected_version: int, event: ConfigEvent
    ) -> list[Tenant]:
        async def work(session: AsyncClientSession) -> list[Tenant]:
            cursor = self._db.tenants.find({"profile_id": profile_id}, session=session)
            users = [_tenant(doc) async for doc in cursor.sort("name")]
            if users:
                return users
            done = await self._db.profiles.delete_one(
                {"_id": profile_id, "version": expected_version}, session=session
            )
            if done.deleted_count == 0:
                raise await self._why_not(profile_id, session)
            await self.outbox(event, session)
            return []

        return await self.run(work)

    async def sealed_secrets(self) -> list[StoredProfile]:
        return [_stored(doc) async for doc in self._db.profiles.find({})]

    async def reseal(self, stored: StoredProfile, new: bytes, key_id: str) -> bool:
        profile = stored.profile
        done = await self._db.profiles.update_one(
            {"_id": profile.id, "version": profile.version, "sealed_secret": stored.sealed},
            {"$set": {"sealed_secret": new, "key_id": key_id}},
        )
        return done.modified_count == 1


# -- tenants --------------------------------------------------------------------------------


def _tenant_doc(tenant: Tenant) -> Document:
    return tenant.model_dump(mode="python", exclude={"id", "entra_tenant_id"})


def _tenant(doc: Document) -> Tenant:
    return Tenant.model_validate({**doc, "id": doc["_id"]})


def _claim_id(directory: str, cloud: str) -> str:
    return f"{cloud}/{directory}"


class MongoTenants(Transactions):
    """Implements `TenantStore`; deleted policies are kept in `tenants_deleted` for audit.

    A tenant's directory GUID is stored beside the policy (`entra_tenant_id`, not part of the
    `Tenant` message) and claimed in `directories` (`_id` = cloud/GUID): the unique `_id` makes
    two concurrent creates for one directory conflict, which a read-then-insert would not.
    """

    async def ping(self) -> None:
        await self._db.command("ping")

    async def add(self, tenant: Tenant, event: ConfigEvent, directory: str | None) -> None:
        async def work(session: AsyncClientSession) -> None:
            await self.touch_profile(tenant.profile_id, session)
            try:
                doc = {"_id": tenant.id, **_tenant_doc(tenant)}
                if directory is not None:
                    doc["entra_tenant_id"] = directory
                await self._db.tenants.insert_one(doc, session=session)
            except DuplicateKeyError as err:
                raise Conflict(
                    f"tenant {tenant.tenant!r} is already registered in cloud {tenant.cloud!r}",
                    field="tenant",
                ) from err
            if directory is not None:
                await self._claim(tenant, directory, session)
            await self.outbox(event, session)

        await self.run(work)

    async def _claim(self, tenant: Tenant, directory: str, session: AsyncClientSession) -> None:
        claim = {"_id": _claim_id(directory, tenant.cloud), "tenant_id": tenant.id}
        try:
            await self._db.directories.insert_one(claim, session=session)
        except DuplicateKeyError as err:
            raise Conflict(
                f"this directory ({directory}) was added as another tenant meanwhile",
                field="tenant",
            ) from err

    async def holding_directory(self, directory: str, cloud: str) -> Tenant | None:
        query = {"entra_tenant_id": directory, "cloud": cloud}
        doc = await self._db.tenants.find_one(query, sort=[("created_at", 1)])
        return _tenant(doc) if doc else None

    async def record_directory(self, tenant_id: str, directory: str) -> Tenant | None:
        doc = await self._db.tenants.find_one_and_update(
            {"_id": tenant_id, "entra_tenant_id": None},
            {"$set": {"entra_tenant_id": directory}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            claim = {"_id": _claim_id(directory, doc["cloud"]), "tenant_id": tenant_id}
            try:
                await self._db.directories.insert_one(claim)
            except DuplicateKeyError:
                pass  # a duplicate found late: reported by health, never merged
        doc = doc or await self._db.tenants.find_one({"_id": tenant_id})
        if doc is None or doc.get("entra_tenant_id") != directory:
            return None
        query = {"entra_tenant_id": directory, "cloud": doc["cloud"], "_id": {"$ne": tenant_id}}
        other = await self._db.tenants.find_one(query, sort=[("created_at", 1)])
        return _tenant(other) if other else None

    async def duplicate_directories(self) -> list[list[Tenant]]:
        pipeline: list[Document] = [
            {"$match": {"entra_tenant_id": {"$type": "string"}}},
            {"$sort": {"created_at": 1}},
            {"$group": {"_id": ["$entra_tenant_id", "$cloud"], "docs": {"$push": "$$ROOT"}}},
            {"$match": {"docs.1": {"$exists": True}}},
            {"$sort": {"_id": 1}},
        ]
        cursor = await self._db.tenants.aggregate(pipeline)
        return [[_tenant(d) for d in group["docs"]] async for group in cursor]

    async def get(self, tenant_id: str) -> Tenant | None:
        doc = await self._db.tenants.find_one({"_id": tenant_id})
        return _tenant(doc) if doc else None

    async def all_tenants(self) -> list[Tenant]:
        return [_tenant(doc) async for doc in self._db.tenants.find({}).sort("created_at")]

    async def using_profile(self, profile_id: str) -> list[Tenant]:
        cursor = self._db.tenants.find({"profile_id": profile_id}).sort("name")
        return [_tenant(doc) async for doc in cursor]

    async def replace(self, tenant: Tenant, expected_version: int, event: ConfigEvent) -> None:
        async def work(session: AsyncClientSession) -> None:
            await self.touch_profile(tenant.profile_id, session)
            done = await self._db.tenants.update_one(
                {"_id": tenant.id, "version": expected_version},
                {"$set": _tenant_doc(tenant)},
                session=session,
            )
            if done.matched_count == 0:
                raise await self._why_not(tenant.id, session)
            await self.outbox(event, session)

        await self.run(work)

    async def _why_not(self, tenant_id: str, session: AsyncClientSession) -> Exception:
        if await self._db.tenants.count_documents({"_id": tenant_id}, session=session):
            return Conflict("the tenant was changed meanwhile", field="version")
        return NotFound(f"no tenant {tenant_id!r}", field="tenant_id")

    async def delete(self, tenant: Tenant, event: ConfigEvent, now: datetime) -> None:
        async def work(session: AsyncClientSession) -> None:
            done = await self._db.tenants.delete_one(
                {"_id": tenant.id, "version": tenant.version}, session=session
            )
            if done.deleted_count == 0:
                raise await self._why_not(tenant.id, session)
            tombstone = {"_id": tenant.id, **_tenant_doc(tenant), "deleted_at": now}
            await self._db.tenants_deleted.insert_one(tombstone, session=session)
            await self._db.directories.delete_many({"tenant_id": tenant.id}, session=session)
            await self.outbox(event, session)

        await self.run(work)

    async def clear_full_scan(
        self,
        tenant_id: str,
        run_id: str,
        now: datetime,
        announce: Callable[[Tenant], ConfigEvent],
    ) -> Tenant | None:
        async def work(session: AsyncClientSession) -> Tenant | None:
            cleared = {"full_scan_next": False, "updated_at": now, "full_scan_cleared_by": run_id}
            doc = await self._db.tenants.find_one_and_update(
                # A run clears the flag at most once, even if an admin set it again meanwhile.
                {"_id": tenant_id, "full_scan_next": True, "full_scan_cleared_by": {"$ne": run_id}},
                {"$set": cleared, "$inc": {"version": 1}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if doc is not None:
                tenant = _tenant(doc)
                await self.outbox(announce(tenant), session)
                return tenant
            doc = await self._db.tenants.find_one(
                {"_id": tenant_id, "full_scan_cleared_by": run_id}, session=session
            )
            return _tenant(doc) if doc else None

        return await self.run(work)
