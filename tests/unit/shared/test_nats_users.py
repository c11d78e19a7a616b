"""Per-user inbox prefixes and the generated permissions, as plain data (the real server's verdict
is in tests/integration/deploy)."""

from __future__ import annotations

import pytest
from entrasync_shared import catalog
from entrasync_shared.permissions import service_permissions
from entrasync_shared.settings import ServiceSettings, user_in_url
from entrasync_shared.subjects import Names, inbox_prefix

NAMES = Names("t1")


def test_each_user_has_its_own_inbox_prefix_and_no_user_means_the_default() -> None:
    assert inbox_prefix("config") == "_INBOX_config"
    assert inbox_prefix(None) == "_INBOX"


@pytest.mark.parametrize("user", ["a.b", "a*", ">", "a b", ""])
def test_a_user_name_that_cannot_be_one_subject_token_is_refused(user: str) -> None:
    with pytest.raises(ValueError, match="cannot name an inbox"):
        inbox_prefix(user)


@pytest.mark.parametrize(
    ("url", "user"),
    [
        ("nats://syncer:pw@nats:4222", "syncer"),
        ("nats://a:b@h1:4222, nats://a:b@h2:4222", "a"),
        ("reader:p%40ss@127.0.0.1:4222", "reader"),
        ("nats://s3cr3t-token@nats:4222", None),  # a token is no user name (nor a subject)
        ("nats://127.0.0.1:4222", None),
    ],
)
def test_the_user_comes_from_the_url(url: str, user: str | None) -> None:
    assert user_in_url(url) == user


def test_settings_give_connections_and_pull_consumers_the_users_inbox() -> None:
    settings = ServiceSettings(ENTRASYNC_NATS_URL="nats://history:pw@nats:4222")
    assert settings.inbox_prefix == "_INBOX_history"
    assert settings.names.pull_inbox == b"_INBOX_history."
    assert ServiceSettings(ENTRASYNC_NATS_URL="nats://nats:4222").names.pull_inbox == b"_INBOX."


def test_every_user_may_read_below_its_own_inbox_only() -> None:
    for user, block in service_permissions(NAMES).items():
        inboxes = [s for s in block["subscribe"]["allow"] if s.startswith("_INBOX")]
        assert inboxes == [f"_INBOX_{user}.>"], user


def test_no_user_may_delete_consumers_or_use_a_consumer_it_does_not_own() -> None:
    for user, block in service_permissions(NAMES).items():
        consumer_rights = [
            s for s in block["publish"]["allow"] if s.startswith(("$JS.API.CONSUMER", "$JS.ACK"))
        ]
        own = set(catalog.durables_of(NAMES, user))
        # A KV watcher reads its ordered consumer's info; a KV stream has no durables.
        watched = {f"$JS.API.CONSUMER.INFO.KV_{b.name(NAMES)}.*" for b in catalog.BUCKETS}
        for subject in (s for s in consumer_rights if s not in watched):
            tokens = subject.split(".")
            assert "DELETE" not in tokens and "*" not in tokens, (user, subject)
            ephemeral = subject.startswith("$JS.API.CONSUMER.CREATE.") and len(tokens) == 5
            assert ephemeral or own & set(tokens), (user, subject)


def test_every_durable_is_declared() -> None:
    assert NAMES.consumer("history", "tenant-deleted") == "T1_history-tenant-deleted"
    assert {d.service for d in catalog.DURABLES} == {"config", "syncer", "history", "scheduler"}
    with pytest.raises(ValueError, match="unknown durable"):
        catalog.consumer_name(NAMES, "reader", "feed")


def test_the_receiver_may_publish_notifications_and_use_its_buckets_only() -> None:
    allowed = service_permissions(NAMES)["receiver"]["publish"]["allow"]
    subscriptions, replay = NAMES.subscription_bucket, NAMES.notify_replay_bucket
    assert set(allowed) == {
        "$JS.API.INFO",
        "$JS.API.STREAM.INFO.*",
        "t1.entrasync.notify.*.*",
        f"$JS.API.STREAM.MSG.GET.KV_{subscriptions}",
        f"$JS.API.DIRECT.GET.KV_{subscriptions}.>",
        f"$JS.API.CONSUMER.CREATE.KV_{subscriptions}",
        f"$JS.FC.KV_{subscriptions}.>",
        f"$JS.API.CONSUMER.INFO.KV_{subscriptions}.*",
        f"$KV.{replay}.>",
        f"$JS.API.STREAM.MSG.GET.KV_{replay}",
        f"$JS.API.DIRECT.GET.KV_{replay}.>",
        f"$JS.API.CONSUMER.CREATE.KV_{replay}",
        f"$JS.FC.KV_{replay}.>",
        f"$JS.API.CONSUMER.INFO.KV_{replay}.*",
    }


def test_readers_of_a_bucket_may_get_and_watch_but_not_write_it() -> None:
    users = service_permissions(NAMES)
    bucket = NAMES.subscription_bucket
    assert f"$KV.{bucket}.>" in users["syncer"]["publish"]["allow"]
    for reader in ("receiver", "scheduler"):
        allowed = users[reader]["publish"]["allow"]
        assert f"$JS.API.DIRECT.GET.KV_{bucket}.>" in allowed, reader
        assert not [s for s in allowed if s.startswith(f"$KV.{bucket}")], reader
    for other in ("config", "history", "console", "reader"):
        assert not [s for s in users[other]["publish"]["allow"] if bucket in s], other
