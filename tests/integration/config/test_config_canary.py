"""The canary: a secret (and a certificate's private key) used for real — profiles, tenants,
connection tests and full syncs by every service running as its own process — appears nowhere
in MongoDB, the service logs, the published messages or the API replies.

Real: nats-server, mongod, the Graph/Entra simulator, and config, scheduler, syncer and history
started from their console scripts (`ServiceStack`) at DEBUG log level.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import bson
import nats
import pytest
from config_helpers import stream_messages
from entrasync_config.adapters.crypto import generate_key
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack, SimulatorCloud
from entrasync_shared.subjects import Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient
from support.polling import eventually

pytestmark = pytest.mark.timeout(180)
CLOUD = "canarylab"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    state = tmp_path_factory.mktemp("canary-sim")
    with SimulatorProcess(
        users=12, groups=3, devices=3, tenants=2, seed=23, state_dir=state
    ) as running:
        yield running


@pytest.fixture(params=["text", "json"])
async def stack(
    infra: LocalInfra, sim: SimulatorProcess, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ServiceStack]:
    cloud = SimulatorCloud(CLOUD, sim.authority_host, sim.graph_url, sim.ca_file)
    env = {
        "ENTRASYNC_CLOUDS": cloud.as_setting(),
        "ENTRASYNC_CONFIG_ENCRYPTION_KEY": generate_key(),
        "ENTRASYNC_CONFIG_DB": f"canary_config_{tmp_path.name}",
        "ENTRASYNC_HISTORY_DB": f"canary_history_{tmp_path.name}",
        "ENTRASYNC_SCHEDULER_JITTER_SECONDS": "0",
        "ENTRASYNC_LOG_LEVEL": "DEBUG",
        # Both log formats: JSON lines for log pipelines (issue 23.2) must not leak either.
        "ENTRASYNC_LOG_FORMAT": request.param,
    }
    prefix = "canary" + tmp_path.name.replace("_", "").replace("-", "")[-8:]
    running = ServiceStack(
        infra.nats_url, infra.mongodb_uri, tmp_path / "stack", env, prefix=prefix
    )
    async with running:
        yield running


class Recorder:
    """Every API reply the test receives, raw."""

    def __init__(self, nc: NatsClient, names: Names) -> None:
        self.nc, self.names, self.replies = nc, names, []  # type: list[bytes]

    async def call(self, verb: str, body: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        msg = await self.nc.request(
            self.names.api("config", verb), json.dumps(body).encode(), timeout=timeout
        )
        self.replies.append(msg.data)
        reply: dict[str, Any] = json.loads(msg.data)
        return reply


async def all_messages(nc: NatsClient, names: Names) -> list[bytes]:
    """Data and headers of every message still stored in every stream of this installation."""
    found: list[bytes] = []
    for spec in names.streams():
        for msg in await stream_messages(nc, spec.name, ">"):
            found.append((msg.data or b"") + json.dumps(dict(msg.headers or {})).encode())
    return found


def forms(secret: str) -> list[bytes]:
    """The secret as text, as a JSON string holds it, and as the base64 a careless encoder
    would produce."""
    raw = secret.encode()
    in_json = json.dumps(secret)[1:-1].encode()
    return [raw, in_json, base64.b64encode(raw), base64.urlsafe_b64encode(raw)]


async def test_secrets_appear_nowhere_but_where_they_are_needed(
    stack: ServiceStack, sim: SimulatorProcess, infra: LocalInfra
) -> None:
    first, second = sim.tenants
    with SimulatorControl(sim.control_url, sim.ca_file) as control:
        cert_app = control.add_app(second["tenant_id"], secret=False, certificate=True)
    secret = first["client_secret"]
    key_lines = [line for line in cert_app["private_key_pem"].splitlines() if "-----" not in line]
    nc = await nats.connect(stack.nats_url)
    api = Recorder(nc, stack.names)
    try:
        with_secret = await api.call(
            "profile.create",
            {"name": "canary", "client_id": first["client_id"], "client_secret": secret},
        )
        with_certificate = await api.call(
            "profile.create",
            {
                "name": "canary-cert",
                "client_id": cert_app["client_id"],
                "private_key_pem": cert_app["private_key_pem"],
                "certificate_pem": cert_app["certificate_pem"],
            },
        )
        refused = await api.call(
            "profile.create",
            {"name": "x\n", "client_id": first["client_id"], "client_secret": f" {secret} "},
        )
        profiles = [with_secret["result"], with_certificate["result"]]
        await api.call(
            "profile.update",
            {"profile_id": profiles[0]["id"], "version": 1, "client_secret": secret},
        )
        tenants = []
        for app, profile in ((first, profiles[0]), (second, profiles[1])):
            created = await api.call(
                "tenant.create",
                {"tenant": app["domain"], "cloud": CLOUD, "profile_id": profile["id"]},
            )
            tenants.append(created["result"])
            test = await api.call("tenant.test", {"tenant_id": created["result"]["id"]})
            assert test["result"]["ok"], test
        unsaved = await api.call(
            "connection.test",
            {"tenant": first["domain"], "cloud": CLOUD, "profile_id": profiles[0]["id"]},
        )
        assert unsaved["result"]["ok"] and refused["ok"] is False

        async def synced() -> bool:
            for tenant in tenants:
                now = await api.call("tenant.get", {"tenant_id": tenant["id"]})
                if now["result"]["full_scan_next"]:
                    return False
            return True

        await eventually(synced, accept=bool, within=90)
        await api.call("profile.list", {})
        await api.call("tenant.list", {})
        messages = await all_messages(nc, stack.names)
    finally:
        await nc.drain()
    await asyncio.to_thread(stack.stop)  # flush and close every log

    canaries = [*forms(secret), *(line.encode() for line in key_lines)]
    client: AsyncMongoClient[Any] = AsyncMongoClient(infra.mongodb_uri)
    try:
        names = [n for n in await client.list_database_names() if stack.workdir.parent.name in n]
        assert len(names) == 2, names
        documents = [
            bson.encode(doc)
            for db in names
            for collection in await client[db].list_collection_names()
            for doc in await client[db][collection].find().to_list()
        ]
    finally:
        await client.close()
    logs = {s: stack.log_file(s).read_bytes() for s in ("config", "scheduler", "syncer", "history")}
    assert all(logs.values()) and len(documents) > 20 and len(messages) > 10
    if stack.env.get("ENTRASYNC_LOG_FORMAT") == "json":
        for service, text in logs.items():
            lines = [line for line in text.splitlines() if line.strip()]
            assert [line for line in lines if not line.startswith(b"{")] == [], service
            records = [json.loads(line) for line in lines]
            assert {r.get("service") for r in records} == {f"entrasync-{service}"}, service
            assert any(r["level"] == "DEBUG" for r in records), service
            if service in ("syncer", "history"):  # lines logged while handling a run's messages
                assert any("tenant_id" in r and "run_id" in r for r in records), service

    places = {
        "mongodb": b"\n".join(documents),
        "messages": b"\n".join(messages),
        "api replies": b"\n".join(api.replies),
        **{f"{service} log": text for service, text in logs.items()},
    }
    leaks = [
        (place, canary[:12])
        for place, blob in places.items()
        for canary in canaries
        if canary in blob
    ]
    assert leaks == []
