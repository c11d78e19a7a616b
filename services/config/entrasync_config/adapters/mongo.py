"""MongoDB storage of profiles and tenants, with a transactional outbox for their events.

Every write runs in a transaction that also stores the change's event in `outbox`, so an event
exists if and only if its change was committed; `NatsOutboxRelay` publishes them. A tenant write
"touches" its credential profile inside the transaction, so it conflicts with a concurrent
delete of that profile: a profile is never deleted while a tenant refers to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bson import ObjectId
from entrasync_shared.messages import utcnow
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from entrasync_config.domain import ConfigEvent, ProfileMissing

Document = dict[str, Any]
T = TypeVar("T")
PUBLISHED_RETENTION_SECONDS = 24 * 3600


def now_ms() -> datetime:
    """UTC now at BSON's millisecond precision, so stored and replied timestamps agree."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def connect(uri: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(uri, tz_aware=True)


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db.profiles.create_index([("name", ASCENDING)], unique=True, name="name_unique")
    await db.profiles.create_index([("key_id", ASCENDING)], name="key_id")
    await db.tenants.create_index(
        [("tenant", ASCENDING), ("cloud", ASCENDING)], unique=True, name="tenant_cloud_unique"
    )
    await db.tenants.create_index([("profile_id", ASCENDING)], name="profile_id")
    await db.tenants.create_index(
        [("entra_tenant_id", ASCENDING), ("cloud", ASCENDING)], name="directory"
    )
    await db.directories.create_index([("tenant_id", ASCENDING)], name="tenant_id")
    await db.tenants.create_index([("created_at", ASCENDING)], name="created_at")
    await db.outbox.create_index(
        [("published", ASCENDING), ("order", ASCENDING)], name="pending_in_order"
    )
    await db.outbox.create_index(
        [("published_at", ASCENDING)],
        expireAfterSeconds=PUBLISHED_RETENTION_SECONDS,
        name="published_ttl",
    )


class Transactions:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._client: AsyncMongoClient[Document] = db.client

    async def run(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run `work` in a transaction (retried on transient conflicts), committing its writes."""
        async with self._client.start_session() as session:
            return await session.with_transaction(work)

    async def outbox(self, event: ConfigEvent, session: AsyncClientSession) -> None:
        await self._db.outbox.insert_one(
            {
                "_id": event.id,
                "type": type(event).__name__,
                "payload": event.model_dump_json(),
                "order": ObjectId(),
                "published": False,
            },
            session=session,
        )

    async def touch_profile(self, profile_id: str, session: AsyncClientSession) -> None:
        touched = await self._db.profiles.update_one(
            {"_id": profile_id}, {"$inc": {"tenant_writes": 1}}, session=session
        )
        if touched.matched_count == 0:
            raise ProfileMissing(profile_id)


# -- outbox ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    event_id: str
    type: str
    payload: str


class MongoOutbox:
    """The pending side of the outbox, for the relay."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._col = db.outbox

    async def pending(self, limit: int = 500) -> list[OutboxEntry]:
        cursor = self._col.find({"published": False}).sort("order").limit(limit)
        return [OutboxEntry(d["_id"], d["type"], d["payload"]) async for d in cursor]

    async def mark_published(self, event_id: str) -> None:
        await self._col.update_one(
            {"_id": event_id}, {"$set": {"published": True, "published_at": now_ms()}}
        )
