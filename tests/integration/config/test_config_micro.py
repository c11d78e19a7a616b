"""Discovery through the NATS micro protocol: `$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from config_helpers import api, gather_replies
from entrasync_shared.catalog import API_VERBS
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient

pytestmark = pytest.mark.usefixtures("config_service")


async def ours(nc: NatsClient, names: Names) -> dict[str, Any]:
    """This test's config instance among every one answering on the shared server."""
    pings = await gather_replies(nc, "$SRV.PING.entrasync-config")
    [mine] = [p for p in pings if p["metadata"].get("prefix") == names.prefix]
    return mine


async def test_config_is_discoverable_with_its_endpoints_and_stats(
    nc: NatsClient, names: Names
) -> None:
    ping = await ours(nc, names)
    await api(nc, names, "tenant.get", {"tenant_id": "missing"})
    await api(nc, names, "profile.list", {})

    info = json.loads((await nc.request(f"$SRV.INFO.entrasync-config.{ping['id']}")).data)
    stats = json.loads((await nc.request(f"$SRV.STATS.entrasync-config.{ping['id']}")).data)

    assert ping["type"] == "io.nats.micro.v1.ping_response" and ping["version"]
    assert info["type"] == "io.nats.micro.v1.info_response"
    subjects = {e["subject"] for e in info["endpoints"]}
    assert subjects == {names.api("config", verb) for verb in API_VERBS["config"]}
    assert {e["queue_group"] for e in info["endpoints"]} == {"entrasync-config"}
    by_name = {e["name"]: e for e in stats["endpoints"]}
    assert (by_name["tenant-get"]["num_requests"], by_name["tenant-get"]["num_errors"]) == (1, 1)
    assert by_name["tenant-get"]["last_error"].startswith("not_found")
    assert (by_name["profile-list"]["num_requests"], by_name["profile-list"]["num_errors"]) == (
        1,
        0,
    )
    assert stats["started"].endswith("Z")
    assert any(p["id"] == ping["id"] for p in await gather_replies(nc, "$SRV.PING"))
