"""The contract of entrasync, declared once: every request-reply endpoint, every stream flow,
every durable consumer and the closed set of API error codes.

Everything else is generated from this module or checked against it:

- the services' API dispatch (`kit.ApiRouter` refuses to start unless a service answers exactly
  its endpoints here),
- the typed client every caller uses (`kit.ApiClient.call(endpoint, request)`),
- each NATS user's permissions (`permissions.service_permissions`),
- the AsyncAPI document (`asyncapi.build`),

and a test fails when a handler, a permission or the document disagrees with it. Subjects are
spelt by `subjects.Names`; this module says which exist, what they carry, and who may use them.

Adding an API verb: one `Endpoint` below (and its handler in the service). Adding an event type:
one `Flow`. See ARCHITECTURE.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict

from entrasync_shared import messages as m
from entrasync_shared.subjects import (
    CHANGE_KINDS,
    PIPELINE_PARTITIONS,
    ChangeKind,
    Names,
    StreamKey,
)

Service = Literal["config", "scheduler", "syncer", "history", "receiver"]
SERVICES: Final[tuple[Service, ...]] = get_args(Service)

User = Literal["config", "scheduler", "syncer", "history", "receiver", "console", "reader"]
"""A NATS user of the installation (besides `admin`, which may do everything)."""

ErrorCode = Literal[
    "validation",  # the request does not validate; `field` says which part
    "not_found",  # it names something the service does not hold
    "conflict",  # a unique name is taken, a version is stale, or the state forbids it
    "in_use",  # the record is still referenced (a profile used by tenants)
    "unavailable",  # a database or another service is unreachable; retrying may help
    "timeout",  # the service did not answer in time (set by the caller's client)
    "internal",  # a bug: see the service's log
]
ERROR_CODES: Final[tuple[ErrorCode, ...]] = get_args(ErrorCode)
"""Every `ApiError.code` an endpoint may answer; nothing else is ever sent."""

ReqT = TypeVar("ReqT", bound=BaseModel)
ResT = TypeVar("ResT")


class NoArguments(m.Request):
    """The body of verbs that take nothing: `{}` or empty."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class Endpoint(Generic[ReqT, ResT]):
    """One request-reply verb: `entrasync.api.<service>.<verb>`.

    `reply` is the type of `Reply.result` (a model, or e.g. `list[Tenant]`); `callers` are the
    NATS users allowed to send the request; `slow` verbs (they wait on Graph) get more workers
    and a longer client timeout.
    """

    service: Service
    verb: str
    request: type[ReqT]
    reply: type[ResT]
    callers: tuple[User, ...]
    summary: str
    slow: bool = False

    def subject(self, names: Names) -> str:
        return names.api(self.service, self.verb)

    @property
    def name(self) -> str:
        return f"{self.service}.{self.verb}"


@dataclass(frozen=True)
class Durable:
    """A durable JetStream consumer: `<service>-<purpose>` on `stream` (a `Names` stream key),
    reading `flows`. Its NATS user may create, read, pull from and ack exactly these."""

    service: Service
    purpose: str
    stream: StreamKey
    flows: tuple[str, ...]
    partition: int | None = None
    """Of a partitioned stream (the pipeline): the one partition this durable reads."""


Party = Literal[
    "config", "scheduler", "syncer", "history", "receiver", "console", "anyone", "operators"
]
"""Who sends or receives a flow: a service, or outsiders (`anyone` reads public events as the
`reader` user or with their own; `operators` read dead letters with admin tools)."""


@dataclass(frozen=True)
class Flow:
    """One kind of message on a stream.

    `address(names)` spells the subject with `{tenant}`/`{type}`/`{service}` placeholders;
    the same with `*` is what publishers may send to and what consumers filter on. `ordered`
    lists the services that read it with their own ordered (ephemeral) consumers, besides the
    durables that list it.
    """

    name: str
    address: Callable[[Names], str]
    message: type[BaseModel] | None
    stream: StreamKey
    publishers: tuple[Party, ...]
    consumers: tuple[Party, ...]
    description: str
    ordered: tuple[Service, ...] = ()

    def pattern(self, names: Names, publisher: str | None = None) -> str:
        """The subject filter of every message of this flow (placeholders as `*`); with a
        `publisher`, what it may publish (`{service}` is the publisher itself)."""
        address = self.address(names)
        if publisher is not None:
            address = address.replace("{service}", publisher)
        for placeholder in ("{tenant}", "{type}", "{service}"):
            address = address.replace(placeholder, "*")
        return address


TENANT, TYPE, SERVICE = "{tenant}", "{type}", "{service}"
CONSOLE: Final[tuple[User, ...]] = ("console",)


def _ep(
    service: Service,
    verb: str,
    request: type[ReqT],
    reply: type[ResT],
    summary: str,
    callers: tuple[User, ...] = CONSOLE,
    *,
    slow: bool = False,
) -> Endpoint[ReqT, ResT]:
    return Endpoint(service, verb, request, reply, callers, summary, slow)


class ConfigApi:
    """config: credential profiles, tenants, connection tests, credentials for syncers."""

    profile_create: Final = _ep(
        "config", "profile.create", m.CredentialProfileCreate, m.CredentialProfile,
        "Create a credential profile (its secret is write-only).",
    )  # fmt: skip
    profile_list: Final = _ep(
        "config", "profile.list", NoArguments, list[m.CredentialProfile],
        "Every credential profile, without secrets.",
    )  # fmt: skip
    profile_get: Final = _ep(
        "config", "profile.get", m.ProfileRef, m.CredentialProfile, "One credential profile."
    )
    profile_update: Final = _ep(
        "config", "profile.update", m.ProfileUpdate, m.CredentialProfile,
        "Change a credential profile (optimistic concurrency by version).",
    )  # fmt: skip
    profile_delete: Final = _ep(
        "config", "profile.delete", m.ProfileDelete, m.CredentialProfile,
        "Delete a credential profile (`in_use` while a tenant uses it).",
    )  # fmt: skip
    tenant_create: Final = _ep(
        "config", "tenant.create", m.TenantCreate, m.Tenant, "Register a tenant."
    )
    tenant_list: Final = _ep(
        "config", "tenant.list", NoArguments, list[m.Tenant], "Every registered tenant.",
        ("console", "scheduler"),
    )  # fmt: skip
    tenant_get: Final = _ep("config", "tenant.get", m.TenantRef, m.Tenant, "One tenant.")
    tenant_update: Final = _ep(
        "config", "tenant.update", m.TenantUpdate, m.Tenant,
        "Change a tenant (enable/disable, force a full scan, ...).",
    )  # fmt: skip
    tenant_delete: Final = _ep(
        "config", "tenant.delete", m.TenantDelete, m.Tenant,
        "Delete a tenant (its history is kept or purged).",
    )  # fmt: skip
    tenant_test: Final = _ep(
        "config", "tenant.test", m.TenantTest, m.ConnectionTestResult,
        "Test a registered tenant's connection to Graph.", slow=True,
    )  # fmt: skip
    connection_test: Final = _ep(
        "config", "connection.test", m.ConnectionTest, m.ConnectionTestResult,
        "Test a connection before saving it.", slow=True,
    )  # fmt: skip
    credential_get: Final = _ep(
        "config", "credential.get", m.TenantRef, m.Credential,
        "A tenant's decrypted credential: for syncers only (their inbox is fenced).",
        ("syncer",),
    )  # fmt: skip
    keys_reencrypt: Final = _ep(
        "config", "keys.reencrypt", NoArguments, m.KeysReencrypted,
        "Seal every stored secret with the newest key (key rotation).",
    )  # fmt: skip
    health: Final = _ep("config", "health", NoArguments, m.Health, "config's health.")


class SchedulerApi:
    """scheduler: run a tenant now; what it knows of tenants' Graph subscriptions."""

    sync_now: Final = _ep(
        "scheduler", "sync_now", m.SyncNow, m.SyncNowAccepted,
        "Start a tenant's sync now (`conflict` if it is disabled).",
    )  # fmt: skip
    health: Final = _ep("scheduler", "health", NoArguments, m.Health, "scheduler's health.")
    subscriptions_list: Final = _ep(
        "scheduler", "subscriptions.list", m.TenantRef, list[m.SubscriptionRecord],
        "A tenant's Graph subscriptions (near real time) as the syncer recorded them.",
    )  # fmt: skip


class SyncerApi:
    """syncer: health only (its work arrives as commands)."""

    health: Final = _ep("syncer", "health", NoArguments, m.Health, "syncer's health.")


class HistoryApi:
    """history: Sync History, the inventory, tenants' sync status, guardrail overrides,
    effective membership."""

    runs_list: Final = _ep(
        "history", "runs.list", m.HistoryRunsQuery, m.Page[m.HistoryRow],
        "Sync History rows: searchable, paged.",
    )  # fmt: skip
    runs_export: Final = _ep(
        "history", "runs.export", m.HistoryExportRequest, m.HistoryExportChunk,
        "Sync History as CSV, one chunk per call.",
    )  # fmt: skip
    objects_list: Final = _ep(
        "history", "objects.list", m.HistoryObjectsQuery, m.Page[m.InventoryItem],
        "The inventory: a tenant's objects as last seen.",
    )  # fmt: skip
    objects_get: Final = _ep(
        "history", "objects.get", m.HistoryObjectQuery, m.InventoryItem, "One inventory object."
    )
    objects_counts: Final = _ep(
        "history", "objects.counts", m.HistoryCountsQuery, m.InventoryCounts,
        "How many objects of each type a tenant has.",
    )  # fmt: skip
    tenants_status: Final = _ep(
        "history", "tenants.status", m.TenantsStatusQuery, m.TenantsSyncStatus,
        "Each tenant's last sync.",
    )  # fmt: skip
    guardrail_override: Final = _ep(
        "history", "guardrail.override", m.GuardrailOverrideGrant, m.GuardrailOverrides,
        "Let the next full scan apply deletions the guardrail refused.",
    )  # fmt: skip
    tenants_deleted: Final = _ep(
        "history", "tenants.deleted", m.DeletedTenantsQuery, m.DeletedTenants,
        "Deleted tenants whose history is kept.",
    )  # fmt: skip
    effective_members: Final = _ep(
        "history", "effective.members", m.EffectiveMembersQuery, m.EffectiveMembers,
        "Who is in a group, directory role or unit, directly or through nested groups, with "
        "paths.",
    )  # fmt: skip
    effective_memberships: Final = _ep(
        "history", "effective.memberships", m.EffectiveMembershipsQuery, m.EffectiveMemberships,
        "What a principal is in (groups, directory roles, units), directly or through nested "
        "groups, with paths.",
    )  # fmt: skip
    privileged_roles: Final = _ep(
        "history", "privileged.roles", m.PrivilegedRolesQuery, m.PrivilegedRoles,
        "Every directory role of a tenant with its direct and effective members (paths).",
    )  # fmt: skip
    health: Final = _ep("history", "health", NoArguments, m.Health, "history's health.")


class ReceiverApi:
    """receiver: health only (Graph's notifications arrive over HTTPS)."""

    health: Final = _ep("receiver", "health", NoArguments, m.Health, "receiver's health.")


def _endpoints_of(namespace: type) -> Iterator[Endpoint[Any, Any]]:
    for value in vars(namespace).values():
        if isinstance(value, Endpoint):
            yield value


ENDPOINTS: Final[tuple[Endpoint[Any, Any], ...]] = tuple(
    endpoint
    for namespace in (ConfigApi, SchedulerApi, SyncerApi, HistoryApi, ReceiverApi)
    for endpoint in _endpoints_of(namespace)
)
"""Every request-reply endpoint of every service."""


def endpoints(service: str) -> tuple[Endpoint[Any, Any], ...]:
    """`service`'s endpoints, in declaration order."""
    return tuple(e for e in ENDPOINTS if e.service == service)


def endpoint(service: str, verb: str) -> Endpoint[Any, Any]:
    """The endpoint `service.verb`; raises `ValueError` for one the catalog does not declare."""
    for candidate in ENDPOINTS:
        if (candidate.service, candidate.verb) == (service, verb):
            return candidate
    raise ValueError(f"unknown API {service}.{verb}")


API_VERBS: Final[dict[str, tuple[str, ...]]] = {
    service: tuple(e.verb for e in endpoints(service)) for service in SERVICES
}
"""Each service's verbs (derived from `ENDPOINTS`)."""


CHANGES: Final[dict[ChangeKind, str]] = {
    "created": "a user, group or device appeared in the directory (`data.attributes`).",
    "updated": "attributes of a user, group or device changed (`data.changed` holds the new "
    "values), or a soft-deleted one was restored (`data.restored`).",
    "deleted": "a user, group or device was deleted from the directory (`data.soft`: it can "
    "still be restored in Entra).",
    "members_changed": "the members of a group changed (`data.added`, `data.removed`: member "
    "object ids).",
}
"""What each directory change event says, in the words of the channel descriptions."""

_DIRECTORY_MODELS: Final[dict[ChangeKind, type[BaseModel]]] = {
    "created": m.CloudEvent[m.ObjectCreated],
    "updated": m.CloudEvent[m.ObjectUpdated],
    "deleted": m.CloudEvent[m.ObjectDeleted],
    "members_changed": m.CloudEvent[m.MembersChanged],
}


def _directory_flow(kind: ChangeKind) -> Flow:
    return Flow(
        f"directory_{kind}",
        lambda n: n.directory_event(TENANT, TYPE, kind),  # type: ignore[arg-type]
        _DIRECTORY_MODELS[kind],
        "events",
        ("history",),
        ("anyone",),
        f"CloudEvent: {CHANGES[kind]} Real changes only; id = Nats-Msg-Id, stable across "
        "redeliveries; `entratenantid` = the directory's GUID.",
    )


FLOWS: Final[tuple[Flow, ...]] = (
    Flow(
        "tenantCreated", lambda n: n.tenant_event("created"), m.TenantCreated, "config",
        ("config",), ("scheduler",), "A tenant sync policy was created.",
        ordered=("scheduler",),
    ),
    Flow(
        "tenantUpdated", lambda n: n.tenant_event("updated"), m.TenantUpdated, "config",
        ("config",), ("scheduler",), "A tenant sync policy changed (new version).",
        ordered=("scheduler",),
    ),
    Flow(
        "tenantDeleted", lambda n: n.tenant_event("deleted"), m.TenantDeleted, "config",
        ("config",), ("scheduler", "syncer", "history"),
        "A tenant sync policy was deleted; syncing stops, history keeps or purges its data.",
        ordered=("scheduler", "syncer"),
    ),
    Flow(
        "profileCreated", lambda n: n.profile_event("created"), m.ProfileCreated, "config",
        ("config",), (), "A credential profile was created (never with its secret).",
    ),
    Flow(
        "profileUpdated", lambda n: n.profile_event("updated"), m.ProfileUpdated, "config",
        ("config",), (), "A credential profile changed (never with its secret).",
    ),
    Flow(
        "profileDeleted", lambda n: n.profile_event("deleted"), m.ProfileDeleted, "config",
        ("config",), (), "A credential profile was deleted.",
    ),
    Flow(
        "startSync", lambda n: n.sync_command(TENANT), m.StartSync, "commands",
        ("scheduler",), ("syncer",),
        "Work queue: read one tenant now. Nats-Msg-Id = tenant + time slot.",
    ),
    Flow(
        "manageSubscriptions", lambda n: n.manage_subscriptions(TENANT), m.ManageSubscriptions,
        "commands", ("scheduler",), ("syncer",),
        "Work queue: create, renew, reauthorize, recreate or delete a tenant's Graph "
        "subscriptions.",
    ),
    Flow(
        "changeNotified", lambda n: n.notification(TENANT, TYPE), m.ChangeNotified,  # type: ignore[arg-type]
        "notify", ("receiver",), ("scheduler",),
        "Graph notified a change (or a lifecycle event) of a tenant's users or groups; one per "
        "tenant and type per accepted POST. Nats-Msg-Id = digest of the POST + tenant + type.",
    ),
    Flow(
        "syncStarted", lambda n: n.run_event(TENANT, "started"), m.SyncStarted, "pipeline",
        ("syncer",), ("history",), "A syncer began a run.",
    ),
    Flow(
        "observed", lambda n: n.observed(TENANT, TYPE), m.ObservationBatch,  # type: ignore[arg-type]
        "pipeline", ("syncer",), ("history",), "One page of observations of one object type.",
    ),
    Flow(
        "syncFinished", lambda n: n.run_event(TENANT, "finished"), m.SyncFinished, "pipeline",
        ("syncer",), ("history",), "A run ended, with per-type results.",
    ),
    Flow(
        "syncRecorded", lambda n: n.sync_recorded(TENANT), m.SyncRecordedEvent, "events",
        ("history",), ("config", "scheduler", "anyone"),
        "CloudEvent: a run and its Sync History rows were recorded.",
        ordered=("scheduler",),
    ),
    *(_directory_flow(kind) for kind in CHANGE_KINDS),
    Flow(
        "directory_effective_changed", lambda n: n.effective_changed(TENANT, TYPE),
        m.CloudEvent[m.EffectiveChanged], "events", ("history",), ("anyone",),
        "CloudEvent: a principal (`{type}`: user, group, device, servicePrincipal, orgContact) "
        "gained or lost groups, directory roles or administrative units, directly or through "
        "nested groups, each with its path (`data.gained`, `data.lost`); one event per "
        "principal and change. A tenant's first computation publishes only its directory "
        "roles' members (`data.baseline`). id = Nats-Msg-Id, stable across redeliveries.",
    ),
    Flow(
        "deadLetter", lambda n: n.dead_letter(SERVICE), None, "deadletter",
        ("config", "scheduler", "syncer", "history"), ("operators",),
        "A message a service could not read, with its reason.",
    ),
)  # fmt: skip
"""Every kind of message on a stream: who publishes it, who reads it."""


DURABLES: Final[tuple[Durable, ...]] = (
    Durable("config", "sync-recorded", "events", ("syncRecorded",)),
    Durable("syncer", "commands", "commands", ("startSync",)),
    Durable("syncer", "subscriptions", "commands", ("manageSubscriptions",)),
    Durable("scheduler", "notifications", "notify", ("changeNotified",)),
    *(
        Durable(
            "history", f"pipeline-{n}", "pipeline", ("syncStarted", "observed", "syncFinished"), n
        )
        for n in range(PIPELINE_PARTITIONS)
    ),
    Durable("history", "tenant-deleted", "config", ("tenantDeleted",)),
)
"""Every durable consumer. A service's NATS user may create, pull from and ack exactly its own."""


BucketKey = Literal["cursors", "sessions", "subscriptions", "notify_replay"]


@dataclass(frozen=True)
class Bucket:
    """A JetStream key-value bucket: the one user who writes it (and reads it), and `readers`
    who may only get keys and watch it."""

    key: BucketKey
    user: User
    description: str
    readers: tuple[User, ...] = ()

    def name(self, names: Names) -> str:
        return {
            "cursors": names.cursor_bucket,
            "sessions": names.session_bucket,
            "subscriptions": names.subscription_bucket,
            "notify_replay": names.notify_replay_bucket,
        }[self.key]


BUCKETS: Final[tuple[Bucket, ...]] = (
    Bucket("cursors", "syncer", "Delta links per tenant and object type."),
    Bucket("sessions", "console", "Live console login sessions."),
    Bucket(
        "subscriptions", "syncer",
        "Graph subscriptions by id (`SubscriptionRecord`): the receiver verifies notifications "
        "against them, the scheduler renews them.",
        readers=("receiver", "scheduler"),
    ),
    Bucket(
        "notify_replay", "receiver",
        "Digests of recently accepted notification bodies (replays are refused on every "
        "replica).",
    ),
)  # fmt: skip
"""Every key-value bucket (declared by `admin`), with its writer and its readers."""


def flow(name: str) -> Flow:
    """The flow called `name`; raises `ValueError` for an undeclared one."""
    for candidate in FLOWS:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown flow {name}")


def partitions(service: str, purpose: str) -> tuple[Durable, ...]:
    """The durables `<service>-<purpose>-<n>`, one per partition of a partitioned stream."""
    found = tuple(
        d
        for d in DURABLES
        if d.service == service and d.purpose.startswith(f"{purpose}-") and d.partition is not None
    )
    if not found:
        raise ValueError(f"no partitioned durable consumers {service}-{purpose}-<n>")
    return found


def durable(service: str, purpose: str) -> Durable:
    """The durable consumer `<service>-<purpose>`; raises `ValueError` for an undeclared one."""
    for candidate in DURABLES:
        if (candidate.service, candidate.purpose) == (service, purpose):
            return candidate
    raise ValueError(f"unknown durable consumer {service}-{purpose}")


def durables_of(names: Names, service: str) -> dict[str, str]:
    """`service`'s durable consumers: stream name by consumer name."""
    return {
        names.consumer(d.service, d.purpose): names.stream(d.stream)
        for d in DURABLES
        if d.service == service
    }


def consumer_name(names: Names, service: str, purpose: str) -> str:
    """The name of a declared durable consumer; raises `ValueError` for an undeclared one."""
    declared = durable(service, purpose)
    return names.consumer(declared.service, declared.purpose)
