"""The scheduler's side of Graph subscriptions: the syncer's records as the bucket says (fed by
`adapters.subscriptions`), and the `ManageSubscriptions` commands it sends (decided by
`domain.plan_subscriptions`/`plan_removal`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from entrasync_shared.messages import SubscriptionRecord

from entrasync_scheduler import domain
from entrasync_scheduler.domain import PlannedSubscriptions, TenantSchedule
from entrasync_scheduler.ports import CommandSink

log = logging.getLogger("entrasync.scheduler")

STATES = ("active", "reauthorizing", "failed")


class SubscriptionKeeper:
    def __init__(
        self, sink: CommandSink, policy: domain.Policy, receiver: domain.Receiver | None
    ) -> None:
        self._sink, self._policy, self._receiver = sink, policy, receiver
        # The syncer's records: tenant id -> subscription id -> record.
        self._records: dict[str, dict[str, SubscriptionRecord]] = {}
        self.loaded = False
        self._removals: dict[str, str] = {}  # tenant id -> why (the command's tag)
        self._removed: dict[str, int] = {}  # tenant id -> check window of its last removal

    # -- the bucket -------------------------------------------------------------------------
    def loaded_all(self, records: list[SubscriptionRecord]) -> None:
        self._records = {}
        for record in records:
            self.stored(record)
        self.loaded = True

    def stored(self, record: SubscriptionRecord) -> None:
        self.dropped(record.subscription_id)  # a record may change tenants
        self._records.setdefault(record.tenant_id, {})[record.subscription_id] = record

    def dropped(self, subscription_id: str) -> None:
        for tenant_id, mine in list(self._records.items()):
            if mine.pop(subscription_id, None) is not None and not mine:
                del self._records[tenant_id]

    def of(self, tenant_id: str) -> list[SubscriptionRecord]:
        """The tenant's records, by object type."""
        mine = self._records.get(tenant_id, {}).values()
        return sorted(mine, key=lambda r: (r.object_type, r.subscription_id))

    def counts(self) -> dict[str, int]:
        """How many subscriptions are in each state."""
        counts = dict.fromkeys(STATES, 0)
        for mine in self._records.values():
            for record in mine.values():
                counts[record.state] += 1
        return counts

    def health(self) -> dict[str, str]:
        """How many subscriptions are in each state, and each one that is not active."""
        if self._receiver is None and not self._records:
            return {}
        details = {
            f"subscription.{r.tenant_id}.{r.object_type}": f"{r.state}: {r.error or 'no error'}"
            for mine in self._records.values()
            for r in mine.values()
            if r.state != "active"
        }
        summary = ", ".join(f"{n} {state}" for state, n in self.counts().items())
        return {"subscriptions": summary, **details}

    # -- commands ---------------------------------------------------------------------------
    def remove(self, tenant_id: str, tag: str) -> None:
        """Delete the tenant's subscriptions at the next look (config deleted it)."""
        self._removals[tenant_id] = tag

    async def look_after(
        self, state: TenantSchedule, now: float
    ) -> tuple[bool, TenantSchedule | None]:
        """Ask the syncer to ensure or delete the tenant's subscriptions if needed: (sent or
        nothing to send, the state after sending or None when unchanged)."""
        if not self.loaded:
            return True, None
        records = self.of(state.tenant.id)
        planned = domain.plan_subscriptions(state, records, now, self._policy, self._receiver)
        if planned is None:
            return True, None
        if not await self._send(planned):
            return False, None
        return True, domain.mark_subscriptions_sent(state, planned)

    async def remove_unknown(self, now: float, known: Callable[[str], bool]) -> bool:
        """Delete the subscriptions of deleted tenants, and of tenants config does not know
        (once per check window); False when a command could not be sent."""
        if self.loaded:
            window = domain.check_window(now, self._policy)
            for tenant_id in list(self._records):
                unknown = not known(tenant_id) and tenant_id not in self._removals
                if unknown and self._removed.get(tenant_id) != window:
                    self._removals[tenant_id] = f"o{window}"
        sent = True
        for tenant_id, tag in list(self._removals.items()):
            planned = domain.plan_removal(tenant_id, tag, now, self._policy, self._receiver)
            if await self._send(planned):
                self._removals.pop(tenant_id, None)
                self._removed[tenant_id] = planned.window
            else:
                sent = False
        return sent

    async def _send(self, planned: PlannedSubscriptions) -> bool:
        command = planned.command
        try:
            await self._sink.manage_subscriptions(planned)
        except Exception as err:
            log.warning(
                "could not ask to %s the subscriptions of %s: %r",
                command.action,
                command.tenant_id,
                err,
            )
            return False
        log.info(
            "asked the syncer to %s the subscriptions of tenant %s (%s)",
            command.action,
            command.tenant_id,
            planned.msg_id.rsplit(":", 1)[-1],
        )
        return True
