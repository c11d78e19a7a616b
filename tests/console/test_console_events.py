"""The console reads stored public events as its own least-privileged NATS user: the newest
matching ones first when there are more than it may read, every one otherwise.

Real: a nats-server with the generated per-user permissions (`LocalInfra(secure=...)`) and the
events stream declared as the deploy does; events are published as history would publish them
(admin stands in for history, whose rights are not the point here).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
from entrasync_console.adapters.events import JetStreamEvents
from entrasync_devtools.infra import LocalInfra, nats_violations
from entrasync_shared.natsutil import ensure_streams
from entrasync_shared.subjects import Names, inbox_prefix

NAMES = Names("ev" + uuid.uuid4().hex[:6])
TENANT = "t1"


@pytest.fixture(scope="module")
def secure_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfra]:
    workdir = tmp_path_factory.mktemp("console-events")
    with LocalInfra(mongo=False, use_env=False, secure=NAMES, workdir=workdir) as running:
        yield running


async def publish(url: str, events: list[tuple[str, dict[str, object]]]) -> None:
    admin = await nats.connect(url)
    try:
        js = admin.jetstream()
        await ensure_streams(js, NAMES)
        for subject, body in events:
            await js.publish(subject, json.dumps(body).encode())
    finally:
        await admin.close()


def role_event(n: int) -> tuple[str, dict[str, object]]:
    subject = NAMES.directory_event(TENANT, "directoryRole", "members_changed")
    return subject, {"id": f"e{n}", "data": {"object_id": "role", "added": [f"u{n}"]}}


def noise(n: int) -> tuple[str, dict[str, object]]:
    return NAMES.directory_event(TENANT, "user", "updated"), {"id": f"n{n}", "data": {}}


async def read(url: str, limit: int) -> tuple[list[str], bool]:
    console = await nats.connect(url, inbox_prefix=inbox_prefix("console"))
    try:
        log = JetStreamEvents(console, NAMES.events_stream)
        subjects = (NAMES.directory_event(TENANT, "directoryRole", "members_changed"),)
        since = datetime.now(UTC) - timedelta(days=30)
        found = await log.newest(subjects, since, limit)
        return [str(e["id"]) for e in found.events], found.complete
    finally:
        await console.close()


def test_the_console_user_reads_the_newest_matching_events_within_its_limit(
    secure_nats: LocalInfra,
) -> None:
    events = [e for n in range(12) for e in (role_event(n), noise(n))]
    asyncio.run(publish(secure_nats.user_url("admin"), events))
    log_file = Path(secure_nats.workdir) / "nats-server.log"
    before = len(log_file.read_text())

    everything, complete = asyncio.run(read(secure_nats.user_url("console"), 100))
    newest, partial = asyncio.run(read(secure_nats.user_url("console"), 5))

    assert (everything, complete) == ([f"e{n}" for n in range(12)], True)
    assert (newest, partial) == ([f"e{n}" for n in range(7, 12)], False)
    violations = nats_violations(log_file.read_text()[before:])
    assert [v for v in violations if v.user == "console"] == []
