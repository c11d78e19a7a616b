"""Every durable pull consumer pulls one message at a time.

Why: nats-py (2.16) ends an idle pull of several messages now and then with a bare
`asyncio.TimeoutError` instead of its own `nats.errors.TimeoutError`, which FastStream (0.7)
does not take for "nothing to fetch": it logs an ERROR with a traceback and restarts the loop
(issue 15, finding 9). A pull of one message ends with nats' own error.
"""

from __future__ import annotations

from typing import Any

import pytest
from entrasync_config.adapters.crypto import generate_key
from entrasync_config.main import build_app as build_config
from entrasync_config.settings import ConfigSettings
from entrasync_history.main import build_app as build_history
from entrasync_history.settings import Settings as HistorySettings
from entrasync_shared.subjects import PIPELINE_PARTITIONS
from entrasync_syncer.main import build_app as build_syncer
from entrasync_syncer.settings import Settings as SyncerSettings
from faststream import FastStream


def pull_subscribers(app: FastStream) -> list[Any]:
    assert app.broker is not None
    return [s for s in app.broker.subscribers if getattr(s, "pull_sub", None) is not None]


@pytest.mark.parametrize(
    ("build", "durables"),
    [
        (lambda: build_config(ConfigSettings(encryption_key=generate_key())), 1),
        # A durable per pipeline partition, and tenant-deleted.
        (lambda: build_history(HistorySettings()), PIPELINE_PARTITIONS + 1),
        # Sync commands, and subscription commands (near real time).
        (lambda: build_syncer(SyncerSettings()), 2),
    ],
    ids=["config", "history", "syncer"],
)
def test_every_pull_consumer_fetches_one_message_at_a_time(build: Any, durables: int) -> None:
    subscribers = pull_subscribers(build())

    assert len(subscribers) == durables
    assert [s.pull_sub.batch_size for s in subscribers] == [1] * durables
