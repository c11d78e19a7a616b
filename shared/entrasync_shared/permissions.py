"""Least-privilege NATS users, one per service, generated from the contract catalog.

`nats_authorization(names, passwords)` returns the `authorization` block of a nats-server config
in which every service may publish and subscribe to exactly what its flows need — only config
may publish config events and answer `credential.get`, only syncers may ask for credentials,
only history may publish public change events — plus an `admin` user (stream declaration, ops
tooling) and a read-only `reader` for other services that consume public events. The same
function feeds the local tooling (`LocalInfra(secure=True)`) and deploy/'s NATS config, so tests
prove the permissions production runs with.

Two fences keep users apart on the wire:

- Inboxes: each user receives replies only below its own prefix (`subjects.inbox_prefix`, which
  every connection passes to nats-py/FastStream), so nobody reads the answers sent to another
  (the syncer's `credential.get` replies carry client secrets). Services answer whatever inbox
  a caller names through `allow_responses`.
- JetStream: a service may create, inspect, pull from and ack only its own durable consumers
  (`catalog.DURABLES`), by name, and delete none; ordered consumers are created on the legacy
  ephemeral subject, where the server refuses durable names. Only `admin` creates streams.
  Subject permissions cannot see a request's body, and nats-server (2.9.10, and still 2.15.1:
  tests/integration/deploy/test_nats_ephemeral_name.py) treats an ephemeral create naming
  (`name`, not `durable_name`) an existing consumer as an update of its mutable settings
  (`ack_wait`, `max_ack_pending`, ...): whoever may create ephemeral consumers on a stream can
  retune, though not read, delete or ack, the durables on it.
"""

from __future__ import annotations

import json
from typing import Any, Final

from entrasync_shared import catalog
from entrasync_shared.subjects import Names, inbox_prefix

SERVICE_USERS: Final = ("config", "scheduler", "syncer", "history", "receiver", "console")
ALL_USERS: Final = (*SERVICE_USERS, "reader", "admin")


def _js_durables(names: Names, service: str) -> list[str]:
    """JetStream API subjects to create, inspect, pull from and ack `service`'s own durable
    consumers, by name: not to delete them, nor to touch anyone else's."""
    allowed: list[str] = []
    for durable, stream in catalog.durables_of(names, service).items():
        allowed += [
            f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
            # nats-py creates a pull consumer under its name (server 2.9+), with its filter
            # subject as further tokens; the legacy subject names the durable too.
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    return allowed


def _js_ephemeral(stream: str) -> list[str]:
    """Ordered (ephemeral push, no acks) consumers on `stream`. The server refuses a durable
    name on this subject, and the consumer's server-chosen name is needed for nothing else but
    flow control replies."""
    return [f"$JS.API.CONSUMER.CREATE.{stream}", f"$JS.FC.{stream}.>"]


def _kv(bucket: str) -> list[str]:
    """Put, get and delete keys of `bucket` (declared by admin), list and watch them."""
    return [f"$KV.{bucket}.>", *_kv_read(bucket)]


def _kv_read(bucket: str) -> list[str]:
    """Get keys of `bucket` and watch it (an ordered consumer on its stream, whose info nats-py
    reads to tell an empty bucket): no put, no delete."""
    return [
        f"$JS.API.STREAM.MSG.GET.KV_{bucket}",
        f"$JS.API.DIRECT.GET.KV_{bucket}.>",
        *_js_ephemeral(f"KV_{bucket}"),
        f"$JS.API.CONSUMER.INFO.KV_{bucket}.*",
    ]


def _unique(subjects: list[str]) -> list[str]:
    return list(dict.fromkeys(subjects))


def _publish(names: Names, user: str) -> list[str]:
    """What `user` may publish, all of it read off the catalog."""
    # Reading stream metadata lets every service verify the declared streams at start-up.
    allowed = ["$JS.API.INFO", "$JS.API.STREAM.INFO.*"]
    allowed += [f.pattern(names, user) for f in catalog.FLOWS if user in f.publishers]
    allowed += [e.subject(names) for e in catalog.ENDPOINTS if user in e.callers]
    allowed += _js_durables(names, user)
    ordered = {f.stream for f in catalog.FLOWS if user in f.ordered}
    # Outsiders read public events with ordered consumers; so does the console, whose
    # privileged-access view lists the role changes of the last 30 days from them.
    if user in ("reader", "console"):
        ordered |= {f.stream for f in catalog.FLOWS if "anyone" in f.consumers}
    for stream in sorted(ordered):
        allowed += _js_ephemeral(names.stream(stream))
    for bucket in catalog.BUCKETS:
        if bucket.user == user:
            allowed += _kv(bucket.name(names))
        elif user in bucket.readers:
            allowed += _kv_read(bucket.name(names))
    return _unique(allowed)


def _subscribe(names: Names, user: str) -> list[str]:
    """What `user` may subscribe to: its own inbox, and the requests it answers."""
    # Replies (API answers, JetStream acks, pushed messages) reach a user only below its own
    # inbox prefix, which all its connections use.
    allowed = [f"{inbox_prefix(user)}.>"]
    served = [e.subject(names) for e in catalog.ENDPOINTS if e.service == user]
    if served:
        allowed += ["$SRV.>", *served]  # the NATS micro protocol: PING, INFO, STATS
    return allowed


def service_permissions(names: Names) -> dict[str, dict[str, Any]]:
    """Per-user `permissions` blocks (nats-server syntax) for every entrasync user but admin."""
    result: dict[str, dict[str, Any]] = {}
    for user in ALL_USERS:
        if user == "admin":
            continue
        result[user] = {
            "publish": {"allow": _publish(names, user)},
            "subscribe": {"allow": _subscribe(names, user)},
        }
        if user in catalog.SERVICES:
            # Services answer request-reply APIs on callers' inboxes.
            result[user]["allow_responses"] = {"max": 1, "expires": "1m"}
    return result


def nats_authorization(names: Names, passwords: dict[str, str]) -> dict[str, Any]:
    """The `authorization` block: one user per entry of `passwords` (admin gets everything)."""
    permissions = service_permissions(names)
    users = []
    for user, password in passwords.items():
        entry: dict[str, Any] = {"user": user, "password": password}
        if user != "admin":
            entry["permissions"] = permissions[user]
        users.append(entry)
    return {"users": users}


def render_nats_config(names: Names, passwords: dict[str, str], **server: Any) -> str:
    """A complete nats-server config (its syntax accepts JSON) with JetStream on."""
    config: dict[str, Any] = dict(server)
    config["authorization"] = nats_authorization(names, passwords)
    return json.dumps(config, indent=2)


def password_variable(user: str) -> str:
    return f"NATS_PASSWORD_{user.upper()}"


def render_nats_config_with_env_passwords(names: Names, **server: Any) -> str:
    """Like `render_nats_config`, but each password is read by nats-server from the environment
    variable `NATS_PASSWORD_<USER>` — so the config can be committed and the passwords live in a
    Kubernetes Secret."""
    marker = "@@ENV@@"
    passwords = {user: f"{marker}{password_variable(user)}" for user in ALL_USERS}
    text = render_nats_config(names, passwords, **server)
    for user in ALL_USERS:
        text = text.replace(f'"{marker}{password_variable(user)}"', f"${password_variable(user)}")
    return text
