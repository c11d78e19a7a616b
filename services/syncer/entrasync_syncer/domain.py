"""Pure decisions of the syncer: what to ask Graph, how to read its pages, when to retry."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal

from entrasync_shared.messages import ObservedObject, Removal, SyncMode, SyncReason
from entrasync_shared.subjects import GRAPH_PATHS, ObjectType

SELECTS: Final[dict[ObjectType, tuple[str, ...]]] = {
    "user": (
        "id",
        "displayName",
        "givenName",
        "surname",
        "userPrincipalName",
        "mail",
        "accountEnabled",
        "userType",
        "jobTitle",
        "department",
    ),
    "group": (
        "id",
        "displayName",
        "description",
        "mail",
        "mailEnabled",
        "securityEnabled",
        "groupTypes",
        "members",
    ),
    "device": (
        "id",
        "displayName",
        "deviceId",
        "operatingSystem",
        "operatingSystemVersion",
        "accountEnabled",
        "trustType",
    ),
}
"""Attributes tracked per type; `$select` decides what delta rounds report as changed."""

MEMBERS_DELTA: Final = "members@delta"

# Graph error codes meaning "this delta link is no longer usable: start over".
_RESYNC_CODES: Final = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
_RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})


def full_round_url(graph_url: str, object_type: ObjectType) -> str:
    """The first request of a full delta round for `object_type`."""
    path = GRAPH_PATHS[object_type]
    return f"{graph_url.rstrip('/')}/v1.0/{path}/delta?$select={','.join(SELECTS[object_type])}"


def plan_type(
    command_mode: SyncMode, command_reason: SyncReason, has_cursor: bool
) -> tuple[SyncMode, SyncReason]:
    """Mode and reason one object type actually runs with."""
    if command_mode == "delta" and not has_cursor:
        return "full", "resync"
    return command_mode, command_reason


def batch_id(run_id: str, object_type: ObjectType, seq: int, attempt: int = 1) -> str:
    """Stable id of a batch; a redelivered command gets distinct ids (see README of the run).

    A second attempt re-reads Graph, and its pages need not match the first attempt's: reusing
    the ids would let JetStream's duplicate window silently drop the new content.
    """
    base = f"{run_id}:{object_type}:{seq}"
    return base if attempt <= 1 else f"{base}:a{attempt}"


# -- pages -> observations ----------------------------------------------------------------------


@dataclass
class _Pending:
    attributes: dict[str, Any]
    added: dict[str, None] = field(default_factory=dict)
    removed: dict[str, None] = field(default_factory=dict)
    repeat: bool = False

    def apply_members(self, changes: Any) -> None:
        for change in changes if isinstance(changes, list) else ():
            member = change.get("id") if isinstance(change, dict) else None
            if not isinstance(member, str):
                continue
            if "@removed" in change:
                self.added.pop(member, None)
                self.removed[member] = None
            else:
                self.removed.pop(member, None)
                self.added[member] = None

    def observed(self, object_id: str) -> ObservedObject:
        return ObservedObject(
            id=object_id,
            attributes=self.attributes,
            members_added=tuple(self.added),
            members_removed=tuple(self.removed),
        )


@dataclass
class PageReader:
    """Turns the pages of one run and type into observations, one page at a time.

    Within a run an object is published once. The exception is a group that comes back on a
    later page with further `members@delta` slices: it is published again, carrying those
    slices, so no membership change is lost (consumers merge member lists across batches).
    Only ids are remembered across pages, never objects.
    """

    seen: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    skipped: int = 0

    @property
    def total(self) -> int:
        return len(self.seen)

    def reset(self) -> None:
        """Forget everything: a fresh full round follows."""
        self.seen.clear()
        self.removed.clear()

    def read(self, entries: list[Any]) -> tuple[list[ObservedObject], list[Removal]]:
        pending: dict[str, _Pending] = {}
        removals: list[Removal] = []
        for entry in entries:
            object_id = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(object_id, str) or not object_id:
                self.skipped += 1
                continue
            if "@removed" in entry:
                if object_id not in self.removed:
                    self.removed.add(object_id)
                    removals.append(Removal(id=object_id, reason=removal_reason(entry)))
                continue
            item = pending.get(object_id)
            if item is None:
                item = _Pending(attributes=attributes_of(entry), repeat=object_id in self.seen)
                pending[object_id] = item
            else:
                item.attributes.update(attributes_of(entry))
            item.apply_members(entry.get(MEMBERS_DELTA))
        objects = []
        for object_id, item in pending.items():
            if item.repeat and not (item.added or item.removed):
                continue
            self.seen.add(object_id)
            objects.append(item.observed(object_id))
        return objects, removals


def attributes_of(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's properties without `id`, OData annotations and `members@delta`."""
    return {k: v for k, v in entry.items() if k != "id" and "@" not in k}


def removal_reason(entry: dict[str, Any]) -> Literal["changed", "deleted"]:
    removed = entry.get("@removed")
    reason = removed.get("reason") if isinstance(removed, dict) else None
    # Anything but an explicit permanent deletion is reported as the restorable kind.
    return "deleted" if reason == "deleted" else "changed"


# -- responses, retries -------------------------------------------------------------------------

Verdict = Literal["ok", "retry", "reauth", "resync", "fail"]


def classify(status: int, code: str = "", message: str = "") -> Verdict:
    """What to do with a Graph response of `status` carrying error `code` and `message`."""
    if 200 <= status < 300:
        return "ok"
    if status in _RETRYABLE_STATUS:
        return "retry"
    if status == 401:
        return "reauth"
    if status == 410:
        return "resync"
    if status == 400:
        if code.lower() in _RESYNC_CODES:
            return "resync"
        if "token" in message.lower():
            # "Badly formed token." and links issued for another resource or tenant.
            return "resync"
    return "fail"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (fractional seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying one Graph request."""

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 30.0

    def delay(
        self, attempt: int, retry_after: float | None, rng: random.Random | None = None
    ) -> float:
        """Wait before retry number `attempt` (1-based): Retry-After if given, else backoff."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)
