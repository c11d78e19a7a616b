"""The sink ceiling: the end-to-end path's physical limit on this machine.

A minimal program reads the same three full delta rounds as the fetch ceiling (the types
concurrently, over the syncer's own transport), bulk-inserts every page's objects into MongoDB
(`insert_many`, unordered, PyMongo's async client) and publishes one event per object to a
JetStream stream configured like the public events stream, with asynchronous PubAcks (a window
of outstanding acks). No diffing, no inventory reads, no history rows: what entrasync's write
path would cost if it did nothing but store and announce.

Run by `sync_vs_sdk.py`: `python bench/sink_ceiling.py '<target json>' <mongodb uri> <db>
<nats url> <prefix>`; prints one JSON line. Give it a database and a prefix of its own.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import httpx
import nats
import orjson
from common import OBJECT_TYPES, Target, client_credentials_token, report
from entrasync_shared.natsutil import stream_config
from entrasync_shared.subjects import Names, ObjectType
from entrasync_syncer.adapters.netstream import AsyncioTransport
from entrasync_syncer.domain import full_round_url
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

ACK_WINDOW = 4000
"""Publishes awaiting their PubAck at most (nats-py's default for `publish_async`)."""
DUPLICATE_KEY = 11000
MEMBERS = "members@delta"


class Sink:
    """Where a page's objects go: one MongoDB collection per type and the events stream."""

    def __init__(self, js: JetStreamContext, names: Names, db: Any, tenant: str) -> None:
        self.js, self.names, self.db, self.tenant = js, names, db, tenant
        self.inserted = self.published = 0

    async def write(self, object_type: ObjectType, objects: list[dict[str, Any]]) -> None:
        """Insert the page, then publish its events; the PubAcks are awaited later, together."""
        if not objects:
            return
        collection: AsyncCollection[Any] = self.db[object_type]
        docs = [{"_id": o["id"], **o} for o in objects]
        try:
            await collection.insert_many(docs, ordered=False)
            repeated: set[int] = set()
        except BulkWriteError as error:
            repeated = await self._add_member_slices(collection, docs, error)
        fresh = [o for n, o in enumerate(objects) if n not in repeated]
        self.inserted += len(fresh)
        subject = self.names.directory_event(self.tenant, object_type, "created")
        for obj in fresh:
            event_id = f"{obj['id']}:created"
            body = {"id": event_id, "type": f"io.entrasync.directory.{object_type}.created"}
            payload = orjson.dumps({**body, "subject": obj["id"], "data": obj})
            await self.js.publish_async(subject, payload, headers={"Nats-Msg-Id": event_id})
        self.published += len(fresh)

    @staticmethod
    async def _add_member_slices(
        collection: AsyncCollection[Any], docs: list[dict[str, Any]], error: BulkWriteError
    ) -> set[int]:
        """A group with more members than a slice comes again, with the next slice (an id
        already stored): append its members to the stored group, in one bulk write."""
        failures = error.details["writeErrors"]
        if any(failure["code"] != DUPLICATE_KEY for failure in failures):
            raise error
        repeated = {failure["index"] for failure in failures}
        slices = [
            UpdateOne(
                {"_id": docs[n]["_id"]},
                {"$push": {MEMBERS: {"$each": docs[n].get(MEMBERS, [])}}},
            )
            for n in sorted(repeated)
        ]
        await collection.bulk_write(slices, ordered=True)
        return repeated


async def walk(
    client: httpx.AsyncClient, url: str, token: str, object_type: ObjectType, sink: Sink
) -> int:
    """Read a round page by page; each page is written while the next one is fetched."""
    pages = 0
    writing: asyncio.Task[None] | None = None
    link: str | None = url
    while link:
        response = await client.get(link, headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        body = response.json()
        pages += 1
        link = body.get("@odata.nextLink")
        if writing is not None:
            await writing
        writing = asyncio.create_task(sink.write(object_type, body["value"]))
    if writing is not None:
        await writing
    return pages


async def main(target: Target, mongodb_uri: str, db_name: str, nats_url: str, prefix: str) -> None:
    names = Names(prefix)
    nc = await nats.connect(nats_url)
    js = nc.jetstream(publish_async_max_pending=ACK_WINDOW)
    events = next(spec for spec in names.streams() if spec.name == names.events_stream)
    await js.add_stream(stream_config(events))
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_uri)
    sink = Sink(js, names, mongo[db_name], target.tenant)
    own = AsyncioTransport(ssl_context=target.ssl_context(), limits=httpx.Limits())
    try:
        async with httpx.AsyncClient(timeout=60, transport=own) as client:
            token = await client_credentials_token(client, target)
            began = time.perf_counter()
            pages = await asyncio.gather(
                *(
                    walk(client, full_round_url(target.graph_url, t), token, t, sink)
                    for t in OBJECT_TYPES
                )
            )
            await js.publish_async_completed()
            wall = time.perf_counter() - began
        stored = (await js.stream_info(names.events_stream)).state.messages
        # Untimed: leave nothing behind to weigh on the measurements that follow.
        await js.delete_stream(names.events_stream)
        await mongo.drop_database(db_name)
    finally:
        await mongo.close()
        await nc.drain()
    report(
        {
            "wall_s": round(wall, 3),
            "pages": sum(pages),
            "entries": sink.inserted,
            "events_published": sink.published,
            "events_stored": stored,
        }
    )


if __name__ == "__main__":
    target_json, uri, database, url, stream_prefix = sys.argv[1:6]
    asyncio.run(main(Target.loads(target_json), uri, database, url, stream_prefix))
