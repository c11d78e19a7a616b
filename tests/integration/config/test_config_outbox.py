"""Events survive a crash between commit and publish: the outbox is relayed on start-up."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from config_helpers import stream_messages
from entrasync_config.main import build_app
from entrasync_config.settings import ConfigSettings
from entrasync_shared.messages import TenantDeleted
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from pymongo.asynchronous.database import AsyncDatabase
from support.polling import eventually


async def test_an_event_committed_but_not_published_is_published_at_start(
    nc: NatsClient, names: Names, config_settings: ConfigSettings, config_db: AsyncDatabase[Any]
) -> None:
    event = TenantDeleted(id="t1.deleted", tenant_id="t1")
    await config_db.outbox.insert_one(
        {
            "_id": event.id,
            "type": "TenantDeleted",
            "payload": event.model_dump_json(),
            "order": ObjectId(),
            "published": False,
        }
    )

    async with build_app(config_settings):
        [msg] = await eventually(
            lambda: stream_messages(nc, names.config_stream, names.tenant_event("deleted")),
            accept=lambda found: len(found) == 1,
        )

    assert TenantDeleted.model_validate_json(msg.data or b"") == event
    assert (msg.headers or {})["Nats-Msg-Id"] == event.id
    stored = await config_db.outbox.find_one({"_id": event.id})
    assert stored is not None and stored["published"] is True and stored["published_at"]
