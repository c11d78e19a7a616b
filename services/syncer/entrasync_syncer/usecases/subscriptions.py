"""A `ManageSubscriptions` command: make a tenant's Graph subscriptions match, or delete them.

`ensure` keeps one subscription per notified type: it lists the app's subscriptions in the
tenant (those posting to our receiver), deletes ours that have no record (their clientState is
unknown, so the receiver could never accept them), deletes those Graph no longer lists as ours
(expired, removed, or posting to a former notification URL), deletes
and recreates those asked to, creates missing ones, reauthorizes those asked to and renews those
expiring within `renew_before`. A refusal is recorded on the type's record (`state="failed"`
with the reason), so the console and health show it and the scheduler retries later. `delete`
deletes every subscription of the tenant and its records. Each step is idempotent.

The clientState is generated here, sent to Graph once and kept nowhere: the record holds its
SHA-256, which is all the receiver needs to verify a notification.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from entrasync_shared.messages import ManageSubscriptions, SubscriptionRecord, utcnow
from entrasync_shared.subjects import NotifiableType

from entrasync_syncer.domain import directory_guid
from entrasync_syncer.domain.subscriptions import (
    CHANGE_TYPE,
    NO_CLIENT_STATE,
    RESOURCES,
    client_state_digest,
    failed_key,
    ours,
    renewal_due,
)
from entrasync_syncer.ports import (
    CredentialRefused,
    CredentialSource,
    DeletionWatch,
    GraphError,
    SubscriptionApi,
    SubscriptionConnector,
    SubscriptionGone,
    SubscriptionStore,
    TenantGone,
    TokenError,
    TokenSource,
)
from entrasync_syncer.usecases.sync import RunToken

log = logging.getLogger("entrasync.syncer.subscriptions")


@dataclass(frozen=True)
class SubscriptionDeps:
    credentials: CredentialSource
    tokens: TokenSource
    graph: SubscriptionConnector
    store: SubscriptionStore
    deletions: DeletionWatch
    now: Callable[[], datetime] = field(default=utcnow)


async def manage_subscriptions(command: ManageSubscriptions, deps: SubscriptionDeps) -> None:
    """Carry `command` out; raises InfrastructureError when NATS fails (retry it later)."""
    tenant_id = command.tenant_id
    records = await deps.store.of_tenant(tenant_id)
    if deps.deletions.deleted(tenant_id):
        await _forget(records, deps, "the tenant was deleted")
        return
    try:
        credential = await deps.credentials.credential(tenant_id)
    except TenantGone as exc:
        await _forget(records, deps, str(exc))
        return
    except CredentialRefused as exc:
        await _fail(command, records, deps, str(exc))
        return
    token = RunToken(deps.tokens, credential)
    try:
        directory = directory_guid(credential.tenant, await token(False)) or ""
    except TokenError as exc:
        await _fail(command, records, deps, f"no token: {exc}")
        return
    async with deps.graph.open(credential.cloud) as graph:
        work = _Work(command, deps, graph, token, directory)
        if command.action == "delete":
            await work.delete_all(records)
        else:
            await work.ensure(records)


async def _forget(records: list[SubscriptionRecord], deps: SubscriptionDeps, why: str) -> None:
    """Without a credential Graph cannot be asked: drop the records; the subscriptions
    expire by themselves (the receiver refuses what they still bring)."""
    for record in records:
        log.warning(
            "subscription %s of tenant %s forgotten (%s); Graph drops it by %s",
            record.subscription_id,
            record.tenant_id,
            why,
            record.expires_at.isoformat(),
        )
        await deps.store.drop(record.subscription_id)


async def _fail(
    command: ManageSubscriptions,
    records: list[SubscriptionRecord],
    deps: SubscriptionDeps,
    error: str,
) -> None:
    """Nothing could be asked of Graph: say why on every record of the tenant (a type without
    one gets a placeholder when ensuring)."""
    log.warning("subscriptions of tenant %s: %s", command.tenant_id, error)
    now = deps.now()
    for record in records:
        await deps.store.put(record.model_copy(update=_failed(error, now)))
    if command.action == "ensure":
        have = {r.object_type for r in records}
        for object_type in command.object_types:
            if object_type not in have:
                await deps.store.put(_placeholder(command, object_type, "", error, now))


def _failed(error: str, now: datetime) -> dict[str, object]:
    return {"state": "failed", "error": error, "updated_at": now}


def _placeholder(
    command: ManageSubscriptions,
    object_type: NotifiableType,
    directory: str,
    error: str,
    now: datetime,
) -> SubscriptionRecord:
    return SubscriptionRecord(
        subscription_id=failed_key(command.tenant_id, object_type),
        tenant_id=command.tenant_id,
        entra_tenant_id=directory,
        object_type=object_type,
        resource=RESOURCES[object_type],
        client_state_sha256=NO_CLIENT_STATE,
        expires_at=now,
        state="failed",
        error=error,
        updated_at=now,
    )


class _Work:
    """One command against Graph with the tenant's token."""

    def __init__(
        self,
        command: ManageSubscriptions,
        deps: SubscriptionDeps,
        graph: SubscriptionApi,
        token: RunToken,
        directory: str,
    ) -> None:
        self.command, self.deps, self.graph, self.token = command, deps, graph, token
        self.directory = directory
        self.now = deps.now()
        self.lifetime = timedelta(seconds=command.lifetime_seconds)
        self.renew_before = timedelta(seconds=command.renew_before_seconds)

    async def delete_all(self, records: list[SubscriptionRecord]) -> None:
        for record in records:
            await self._delete(record)
        for orphan in await self._listed() or ():
            await self.graph.delete(orphan, self.token)

    async def ensure(self, records: list[SubscriptionRecord]) -> None:
        listed = await self._listed()
        known = {r.subscription_id for r in records}
        for subscription_id in (listed or set()) - known:
            log.info("deleting subscription %s: ours, but without a record", subscription_id)
            await self.graph.delete(subscription_id, self.token)
        live: dict[NotifiableType, list[SubscriptionRecord]] = defaultdict(list)
        placeholders: dict[NotifiableType, SubscriptionRecord] = {}
        for record in records:
            if record.subscription_id.startswith("failed."):
                placeholders[record.object_type] = record
            elif listed is not None and record.subscription_id not in listed:
                # Expired or removed (the delete finds nothing), or posting to another URL
                # than the receiver's now (ENTRASYNC_NOTIFICATION_URL changed): deleted.
                log.info("subscription %s is not ours in Graph any more", record.subscription_id)
                await self._delete(record)
            elif (
                record.subscription_id in self.command.recreate
                or record.object_type not in self.command.object_types
            ):
                await self._delete(record)
            else:
                live[record.object_type].append(record)
        for object_type in self.command.object_types:
            await self._one_type(object_type, live[object_type], placeholders.get(object_type))
        for object_type, placeholder in placeholders.items():
            if object_type not in self.command.object_types:
                await self.deps.store.drop(placeholder.subscription_id)

    async def _one_type(
        self,
        object_type: NotifiableType,
        mine: list[SubscriptionRecord],
        placeholder: SubscriptionRecord | None,
    ) -> None:
        mine.sort(key=lambda r: r.expires_at, reverse=True)
        for extra in mine[1:]:
            await self._delete(extra)
        kept = mine[0] if mine else None
        try:
            if kept is not None:
                try:
                    await self._keep(kept)
                except SubscriptionGone:
                    await self.deps.store.drop(kept.subscription_id)
                    kept = None
            if kept is None:
                await self._create(object_type)
        except GraphError as exc:
            error = str(exc)
            log.warning(
                "%s subscription of tenant %s: %s", object_type, self.command.tenant_id, error
            )
            if kept is not None:
                await self.deps.store.put(kept.model_copy(update=_failed(error, self.now)))
            else:
                await self.deps.store.put(
                    _placeholder(self.command, object_type, self.directory, error, self.now)
                )
            return
        if placeholder is not None:
            await self.deps.store.drop(placeholder.subscription_id)

    async def _keep(self, record: SubscriptionRecord) -> None:
        reauthorize = record.subscription_id in self.command.reauthorize
        if reauthorize:
            await self.graph.reauthorize(record.subscription_id, self.token)
        due = renewal_due(record.expires_at, self.now, self.renew_before)
        if not (reauthorize or due or record.state != "active"):
            return
        renewed = await self.graph.renew(
            record.subscription_id, self.now + self.lifetime, self.token
        )
        update = {"expires_at": renewed.expires_at, "state": "active", "error": None}
        await self.deps.store.put(record.model_copy(update={**update, "updated_at": self.now}))

    async def _create(self, object_type: NotifiableType) -> None:
        client_state = secrets.token_urlsafe(32)
        body = {
            "changeType": CHANGE_TYPE,
            "notificationUrl": self.command.notification_url,
            "lifecycleNotificationUrl": self.command.lifecycle_url,
            "resource": RESOURCES[object_type],
            "expirationDateTime": _graph_time(self.now + self.lifetime),
            "clientState": client_state,
        }
        created = await self.graph.create(body, self.token)
        log.info(
            "subscription %s created for the %ss of tenant %s",
            created.id,
            object_type,
            self.command.tenant_id,
        )
        await self.deps.store.put(
            SubscriptionRecord(
                subscription_id=created.id,
                tenant_id=self.command.tenant_id,
                entra_tenant_id=self.directory,
                object_type=object_type,
                resource=RESOURCES[object_type],
                client_state_sha256=client_state_digest(client_state),
                expires_at=created.expires_at,
                updated_at=self.now,
            )
        )

    async def _delete(self, record: SubscriptionRecord) -> None:
        if not record.subscription_id.startswith("failed."):
            try:
                await self.graph.delete(record.subscription_id, self.token)
            except GraphError as exc:
                error = f"could not delete it: {exc}"
                await self.deps.store.put(record.model_copy(update=_failed(error, self.now)))
                return
        await self.deps.store.drop(record.subscription_id)

    async def _listed(self) -> set[str] | None:
        """Ids of our subscriptions Graph lists; None when Graph would not say."""
        try:
            return set(await self._ours())
        except GraphError as exc:
            log.warning("listing subscriptions of %s failed: %s", self.command.tenant_id, exc)
            return None

    async def _ours(self) -> list[str]:
        listed = await self.graph.list(self.token)
        return [s.id for s in ours(listed, self.command.notification_url)]


def _graph_time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
