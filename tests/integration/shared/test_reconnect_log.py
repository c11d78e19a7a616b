"""A NATS restart is reported in plain lines: no traceback, attempts numbered, one line when back.

Real: a private nats-server (so stopping it disturbs no other test) and nats-py.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable, Iterator

import nats
import pytest
from entrasync_devtools.infra import find_nats_server, free_port
from entrasync_shared.reconnects import ReconnectLog
from support.polling import eventually

LOG = "entrasync.test.reconnects"


def start_server(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [str(find_nats_server()), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with __import__("socket").create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise AssertionError("nats-server did not start")


@pytest.fixture
def port() -> Iterator[int]:
    yield free_port()


async def until(check: Callable[[], object], within: float = 15.0) -> None:
    async def probe() -> object:
        return check()

    await eventually(probe, "the log line", within)


async def test_a_nats_restart_logs_one_line_per_attempt_and_one_when_back(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = start_server(port)
    nc = await nats.connect(
        f"nats://127.0.0.1:{port}",
        reconnect_time_wait=0.2,
        max_reconnect_attempts=-1,
        **ReconnectLog(logging.getLogger(LOG)).callbacks(),
    )
    try:
        server.terminate()
        server.wait(10)
        await until(lambda: "attempt 3 failed" in caplog.text)
        server = start_server(port)
        await until(lambda: "connection back" in caplog.text)
    finally:
        await nc.close()
        server.terminate()
        server.wait(10)
    records = [r for r in caplog.records if r.name == LOG]
    assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    lost = [r for r in records if "connection lost" in r.getMessage()]
    attempts = [r for r in records if "reconnect attempt" in r.getMessage()]
    back = [r for r in records if "connection back" in r.getMessage()]
    assert len(lost) == 1 and len(back) == 1 and back[0].levelno == logging.INFO
    assert [int(r.getMessage().split()[3]) for r in attempts] == list(range(1, len(attempts) + 1))
    assert all(r.levelno == logging.WARNING and "\n" not in r.getMessage() for r in attempts)
