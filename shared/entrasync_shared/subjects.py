"""Every NATS subject, stream, consumer and KV bucket entrasync uses, declared once.

Services build subjects only through the helpers here, so a rename happens in one place and the
AsyncAPI document (generated from code) stays the truth. A `prefix` lets tests and side-by-side
installations run isolated on one NATS server: `Names("t123")` yields `t123.entrasync.*`
subjects and `T123_ENTRASYNC_*` streams.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal, get_args

ObjectType = Literal[
    "user",
    "group",
    "device",
    "servicePrincipal",
    "application",
    "directoryRole",
    "administrativeUnit",
    "orgContact",
    "roleEligibility",
]
OBJECT_TYPES: Final[tuple[ObjectType, ...]] = get_args(ObjectType)
"""Every directory object type entrasync can sync (Graph's own names, except `roleEligibility`:
PIM's eligible role assignments, Graph's `unifiedRoleEligibilitySchedule`), in sync order."""

DEFAULT_OBJECT_TYPES: Final[tuple[ObjectType, ...]] = ("user", "group", "device")
"""What a tenant syncs unless its `object_types` setting says otherwise."""

CONTAINER_TYPES: Final[tuple[ObjectType, ...]] = ("group", "directoryRole", "administrativeUnit")
"""The types whose delta rounds carry `members@delta` (their members are stored as edges)."""

FULL_LIST_TYPES: Final[tuple[ObjectType, ...]] = ("roleEligibility",)
"""The types Graph offers no delta query for: every run reads their whole list (they are few),
so each of their rounds is a full round, whose end drops what the list no longer holds, and no
delta link is stored for them (rbacapplication-list-roleeligibilityschedules.md)."""

ContainerType = Literal["group", "directoryRole", "administrativeUnit"]
"""A type that holds members (`CONTAINER_TYPES` as a type): what effective membership names."""

READ_PERMISSIONS: Final[dict[ObjectType, tuple[str, ...]]] = {
    "user": ("User.Read.All", "Directory.Read.All"),
    "group": ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"),
    "device": ("Device.Read.All", "Directory.Read.All"),
    "servicePrincipal": ("Application.Read.All", "Directory.Read.All"),
    "application": ("Application.Read.All", "Directory.Read.All"),
    "directoryRole": ("RoleManagement.Read.Directory", "Directory.Read.All"),
    "administrativeUnit": ("AdministrativeUnit.Read.All", "Directory.Read.All"),
    "orgContact": ("OrgContact.Read.All", "Directory.Read.All"),
    # Directory.Read.All is not among the list's permissions: it does not read schedules.
    "roleEligibility": (
        "RoleEligibilitySchedule.Read.Directory",
        "RoleManagement.Read.Directory",
        "RoleManagement.Read.All",
        "RoleEligibilitySchedule.ReadWrite.Directory",
        "RoleManagement.ReadWrite.Directory",
    ),
}
"""Application permissions that let an app read each type with delta (with its list for
`FULL_LIST_TYPES`), least privileged first (the Permissions table of each type's delta or list
page on learn.microsoft.com)."""

OBJECT_TYPE_NAMES: Final[dict[ObjectType, str]] = {
    "user": "users",
    "group": "groups",
    "device": "devices",
    "servicePrincipal": "service principals",
    "application": "applications",
    "directoryRole": "directory roles",
    "administrativeUnit": "administrative units",
    "orgContact": "contacts",
    "roleEligibility": "eligible role assignments",
}
"""What people call each type, in the plural (Entra admin center's words): the words messages
and screens use, so config's explanations and the console's labels name a type alike."""

ChangeKind = Literal["created", "updated", "deleted", "members_changed"]
CHANGE_KINDS: Final[tuple[ChangeKind, ...]] = ("created", "updated", "deleted", "members_changed")

NotifiableType = Literal["user", "group"]
NOTIFIABLE_TYPES: Final[tuple[NotifiableType, ...]] = ("user", "group")
"""The object types Graph change notifications cover for entrasync (the others stay on polling)."""

StreamKey = Literal["config", "commands", "pipeline", "events", "deadletter", "notify"]

DEFAULT_INBOX: Final = "_INBOX"
_USER_NAME = re.compile(r"[A-Za-z0-9_-]+")


def inbox_prefix(user: str | None) -> str:
    """The inbox prefix of NATS user `user`: `_INBOX_<user>`; nats-py's `_INBOX` without a user.

    Every connection of `user` passes it to nats-py (`connect(inbox_prefix=...)`) or FastStream
    (`NatsBroker(inbox_prefix=...)`), and the generated server config lets `user` subscribe only
    below it — so no user can read the replies (credentials included) sent to another. Raises
    `ValueError` for a user name that cannot be one subject token as it is (mapping it would let
    two users share an inbox).
    """
    if user is None:
        return DEFAULT_INBOX
    if not _USER_NAME.fullmatch(user):
        raise ValueError(
            f"NATS user name {user!r} cannot name an inbox: use letters, digits, '_' and '-'"
        )
    return f"{DEFAULT_INBOX}_{user}"


PIPELINE_PARTITIONS: Final = 32
"""How many partitions the pipeline stream spreads tenants over (docs/scaling.md).

The stream itself assigns each message to `hash(tenant id) mod PIPELINE_PARTITIONS` on ingest
(a subject transform with NATS' deterministic `partition()`), so every message of a tenant is in
one partition, in publish order, and publishers never know the count. history has one durable
per partition (`catalog.DURABLES`), each handing out one message at a time, pulled by every
history replica: partitions are applied in parallel, a tenant's messages one after another.
"""


def pipeline_partition_of(tenant_id: str, partitions: int = PIPELINE_PARTITIONS) -> int:
    """The pipeline partition the stream puts `tenant_id`'s messages in: NATS' `partition()`
    (FNV-1a, 32 bits, of the token, modulo the count), so tools and tests can name it."""
    digest = 0x811C9DC5
    for byte in tenant_id.encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return digest % partitions


@dataclass(frozen=True)
class StreamSpec:
    """One JetStream stream: its name, subjects, retention and duplicate window, and the
    `(source, destination)` subject transform applied to what it stores, if any."""

    name: str
    subjects: tuple[str, ...]
    retention: Literal["limits", "workqueue"]
    max_age: timedelta | None
    duplicate_window: timedelta
    transform: tuple[str, str] | None = None


@dataclass(frozen=True)
class Names:
    """Subject, stream, consumer and bucket names under an optional isolation prefix.

    `inbox` is the inbox prefix of the NATS user these names serve (see `inbox_prefix`): pull
    consumers take their reply inbox from it (`pull_inbox`).
    """

    prefix: str = ""
    inbox: str = DEFAULT_INBOX

    # -- helpers --------------------------------------------------------------------------------
    def _s(self, subject: str) -> str:
        return f"{self.prefix}.{subject}" if self.prefix else subject

    def _n(self, name: str) -> str:
        return f"{self.prefix.upper().replace('.', '_')}_{name}" if self.prefix else name

    # -- streams ------------------------------------------------------------------------------
    @property
    def config_stream(self) -> str:
        return self._n("ENTRASYNC_CONFIG")

    @property
    def commands_stream(self) -> str:
        return self._n("ENTRASYNC_COMMANDS")

    @property
    def pipeline_stream(self) -> str:
        return self._n("ENTRASYNC_PIPELINE")

    @property
    def events_stream(self) -> str:
        return self._n("ENTRASYNC_EVENTS")

    @property
    def dead_letter_stream(self) -> str:
        return self._n("ENTRASYNC_DEADLETTER")

    @property
    def notify_stream(self) -> str:
        """Graph change notifications accepted by the receiver (short-lived: a safety-net poll
        covers whatever ages out)."""
        return self._n("ENTRASYNC_NOTIFY")

    @property
    def cursor_bucket(self) -> str:
        return self._n("entrasync_cursors")

    @property
    def session_bucket(self) -> str:
        """The console's live login sessions (see `natsutil.ensure_session_bucket`)."""
        return self._n("entrasync_console_sessions")

    @property
    def subscription_bucket(self) -> str:
        """Graph subscriptions by subscription id (`SubscriptionRecord`): the syncer writes,
        the receiver and the scheduler read."""
        return self._n("entrasync_subscriptions")

    @property
    def notify_replay_bucket(self) -> str:
        """Digests of notification bodies the receiver accepted recently (replay detection
        across replicas: a key is created once, and ages out)."""
        return self._n("entrasync_notify_replay")

    def streams(self) -> tuple[StreamSpec, ...]:
        """Every stream with its retention policy."""
        return (
            StreamSpec(
                self.config_stream,
                (self._s("entrasync.config.>"),),
                "limits",
                None,
                timedelta(minutes=2),
            ),
            StreamSpec(
                self.commands_stream,
                (self._s("entrasync.sync.command.*"), self._s("entrasync.subscriptions.manage.*")),
                "workqueue",
                timedelta(days=1),
                timedelta(minutes=10),
            ),
            StreamSpec(
                self.pipeline_stream,
                (self._s("entrasync.sync.observed.*.*"), self._s("entrasync.sync.run.*.*")),
                "limits",
                timedelta(days=3),
                timedelta(minutes=10),
                # observed.<tenant>.<type> and run.<tenant>.<kind> are stored as
                # part.<n>.observed.<tenant>.<type> ...: the 2nd wildcard is the tenant.
                (
                    self._s("entrasync.sync.*.*.*"),
                    self._s(
                        f"entrasync.sync.part.{{{{partition({PIPELINE_PARTITIONS},2)}}}}"
                        ".{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}"
                    ),
                ),
            ),
            StreamSpec(
                self.events_stream,
                (self._s("entrasync.directory.>"), self._s("entrasync.sync.recorded.*")),
                "limits",
                timedelta(days=30),
                timedelta(minutes=10),
            ),
            StreamSpec(
                self.dead_letter_stream,
                (self._s("entrasync.deadletter.*"),),
                "limits",
                timedelta(days=14),
                timedelta(minutes=2),
            ),
            StreamSpec(
                self.notify_stream,
                (self._s("entrasync.notify.*.*"),),
                "limits",
                timedelta(hours=1),
                timedelta(minutes=10),
            ),
        )

    # -- config events ------------------------------------------------------------------------
    def tenant_event(self, kind: Literal["created", "updated", "deleted"]) -> str:
        return self._s(f"entrasync.config.tenant.{kind}")

    @property
    def config_events(self) -> str:
        """Every config event (tenant and profile changes)."""
        return self._s("entrasync.config.>")

    @property
    def tenant_events(self) -> str:
        return self._s("entrasync.config.tenant.*")

    def profile_event(self, kind: Literal["created", "updated", "deleted"]) -> str:
        return self._s(f"entrasync.config.profile.{kind}")

    @property
    def profile_events(self) -> str:
        return self._s("entrasync.config.profile.*")

    # -- commands -----------------------------------------------------------------------------
    def sync_command(self, tenant_id: str) -> str:
        return self._s(f"entrasync.sync.command.{tenant_id}")

    @property
    def sync_commands(self) -> str:
        return self._s("entrasync.sync.command.*")

    def manage_subscriptions(self, tenant_id: str) -> str:
        """The scheduler's commands to the syncer about a tenant's Graph subscriptions."""
        return self._s(f"entrasync.subscriptions.manage.{tenant_id}")

    @property
    def manage_subscriptions_all(self) -> str:
        return self._s("entrasync.subscriptions.manage.*")

    # -- change notifications -----------------------------------------------------------------
    def notification(self, tenant_id: str, object_type: NotifiableType) -> str:
        """Where the receiver publishes `ChangeNotified` for one tenant and object type."""
        return self._s(f"entrasync.notify.{tenant_id}.{object_type}")

    @property
    def notifications_all(self) -> str:
        return self._s("entrasync.notify.*.*")

    # -- pipeline -----------------------------------------------------------------------------
    def observed(self, tenant_id: str, object_type: ObjectType) -> str:
        return self._s(f"entrasync.sync.observed.{tenant_id}.{object_type}")

    def run_event(self, tenant_id: str, kind: Literal["started", "finished"]) -> str:
        return self._s(f"entrasync.sync.run.{tenant_id}.{kind}")

    @property
    def pipeline_all(self) -> str:
        return self._s("entrasync.sync.>")

    def pipeline_consumer(self, tenant_id: str) -> str:
        """The history durable that reads `tenant_id`'s pipeline messages (its partition's)."""
        return self.consumer("history", f"pipeline-{pipeline_partition_of(tenant_id)}")

    def pipeline_partition(self, partition: int) -> str:
        """What the pipeline stream stores in `partition` (its durable's filter)."""
        return self._s(f"entrasync.sync.part.{partition}.>")

    def stored(self, subject: str) -> str:
        """A pipeline subject (or filter) as the stream stores it: `observed.<t>.<type>` →
        `part.<n>.observed.<t>.<type>`, `n` being `t`'s partition (`*` for a wildcard `t`)."""
        base = self._s("entrasync.sync.")
        rest = subject.removeprefix(base)
        tokens = rest.split(".")
        if not subject.startswith(base) or len(tokens) < 2 or tokens[0] not in ("observed", "run"):
            return subject
        tenant = tokens[1]
        partition = "*" if tenant in ("*", ">") else str(pipeline_partition_of(tenant))
        return f"{base}part.{partition}.{rest}"

    def published(self, subject: str) -> str:
        """A stored pipeline subject as it was published (its partition tokens taken out);
        any other subject as it is."""
        base = self._s("entrasync.sync.part.")
        if not subject.startswith(base):
            return subject
        return self._s("entrasync.sync.") + subject.removeprefix(base).split(".", 1)[-1]

    @property
    def observed_all(self) -> str:
        return self._s("entrasync.sync.observed.*.*")

    @property
    def run_events_all(self) -> str:
        return self._s("entrasync.sync.run.*.*")

    # -- public events ------------------------------------------------------------------------
    def directory_event(self, tenant_id: str, object_type: ObjectType, kind: ChangeKind) -> str:
        return self._s(f"entrasync.directory.{tenant_id}.{object_type}.{kind}")

    def effective_changed(self, tenant_id: str, principal_type: str) -> str:
        """Where a principal's effective membership changes go (`principal_type`: a member
        type, e.g. `user`; docs/effective-membership.md)."""
        return self._s(f"entrasync.directory.{tenant_id}.{principal_type}.effective_changed")

    @property
    def directory_events(self) -> str:
        return self._s("entrasync.directory.>")

    def sync_recorded(self, tenant_id: str) -> str:
        return self._s(f"entrasync.sync.recorded.{tenant_id}")

    @property
    def sync_recorded_all(self) -> str:
        return self._s("entrasync.sync.recorded.*")

    # -- request/reply APIs -------------------------------------------------------------------
    def api(self, service: str, verb: str) -> str:
        """The subject of one request-reply verb; `catalog.ENDPOINTS` declares which exist
        (use `Endpoint.subject`)."""
        return self._s(f"entrasync.api.{service}.{verb}")

    def dead_letter(self, service: str) -> str:
        """Where a service parks messages it cannot parse (kept in ENTRASYNC_DEADLETTER)."""
        return self._s(f"entrasync.deadletter.{service}")

    # -- consumers ----------------------------------------------------------------------------
    def consumer(self, service: str, purpose: str) -> str:
        """A durable consumer's name; `catalog.DURABLES` declares which exist."""
        return self._n(f"{service}-{purpose}").replace(".", "_")

    def stream(self, key: StreamKey) -> str:
        """A stream's name by its key (`config`, `commands`, `pipeline`, `events`,
        `deadletter`, `notify`)."""
        return {
            "config": self.config_stream,
            "commands": self.commands_stream,
            "pipeline": self.pipeline_stream,
            "events": self.events_stream,
            "deadletter": self.dead_letter_stream,
            "notify": self.notify_stream,
        }[key]

    @property
    def pull_inbox(self) -> bytes:
        """`inbox_prefix` for FastStream pull subscribers (its default is nats-py's `_INBOX.`)."""
        return f"{self.inbox}.".encode()


def cursor_key(tenant_id: str, object_type: ObjectType) -> str:
    """KV key of a tenant's delta cursor for one object type."""
    return f"{tenant_id}.{object_type}"


GRAPH_PATHS: Final[dict[ObjectType, str]] = {
    "user": "users",
    "group": "groups",
    "device": "devices",
    "servicePrincipal": "servicePrincipals",
    "application": "applications",
    "directoryRole": "directoryRoles",
    # v1.0 serves units below `directory/` (msgraph-sdk's v1.0 builds this path)
    "administrativeUnit": "directory/administrativeUnits",
    "orgContact": "contacts",
    "roleEligibility": "roleManagement/directory/roleEligibilitySchedules",
}
