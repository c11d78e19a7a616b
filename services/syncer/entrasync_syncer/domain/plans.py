"""Pure decisions of the syncer: what to ask Graph, where a round starts, when to retry."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final, Literal
from urllib.parse import urlsplit

from entrasync_shared.messages import SyncMode, SyncReason
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

LINK_LIFETIME: Final = timedelta(days=7)
"""How long Graph keeps the state behind a deltaLink of directory objects."""

# Graph error codes meaning "this delta link is no longer usable: start over".
_RESYNC_CODES: Final = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
_RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})


def full_round_url(graph_url: str, object_type: ObjectType) -> str:
    """The first request of a full delta round for `object_type`."""
    path = GRAPH_PATHS[object_type]
    return f"{graph_url.rstrip('/')}/v1.0/{path}/delta?$select={','.join(SELECTS[object_type])}"


@dataclass(frozen=True)
class Cursor:
    """A stored deltaLink, when it was stored, and the filter scope it was read under."""

    delta_link: str
    at: datetime | None = None
    scope: str = ""


@dataclass(frozen=True)
class TypePlan:
    """How one object type of a run starts: its mode, reason, first URL and why."""

    mode: SyncMode
    reason: SyncReason
    url: str
    note: str = ""


def plan_type(
    command_mode: SyncMode,
    command_reason: SyncReason,
    cursor: Cursor | None,
    *,
    object_type: ObjectType,
    graph_url: str,
    scope: str = "",
    now: datetime | None = None,
    link_lifetime: timedelta = LINK_LIFETIME,
) -> TypePlan:
    """Where one object type starts: the stored link for a delta, else a full round.

    A delta falls back to a full round (reason `resync`) when there is no link, when the link
    is older than Graph keeps delta state, when it belongs to another resource, or when the
    tenant's filters (or group scope) changed since it was stored: a delta from such a link
    would silently miss objects.
    """
    full = full_round_url(graph_url, object_type)
    if command_mode == "full":
        return TypePlan("full", command_reason, full)
    problem = _unusable(cursor, object_type, scope, now or datetime.now(UTC), link_lifetime)
    if problem or cursor is None:
        return TypePlan("full", "resync", full, problem or "no delta link stored")
    return TypePlan("delta", command_reason, cursor.delta_link)


def _unusable(
    cursor: Cursor | None,
    object_type: ObjectType,
    scope: str,
    now: datetime,
    link_lifetime: timedelta,
) -> str:
    if cursor is None:
        return "no delta link stored"
    path = urlsplit(cursor.delta_link).path.rstrip("/")
    if not re.search(rf"/{GRAPH_PATHS[object_type]}/(microsoft\.graph\.)?delta(\(\))?$", path):
        return "the stored link is not a delta link of this resource"
    if cursor.at is not None and now - cursor.at >= link_lifetime:
        return f"the stored link is older than {link_lifetime.days} days"
    if cursor.scope != scope:
        return "the tenant's filters or group scope changed"
    return ""


_GUID: Final = re.compile(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}")


def directory_guid(tenant: str, access_token: str) -> str | None:
    """The Entra directory's GUID: the access token's `tid` claim, else the configured tenant
    when it is a GUID; None when neither tells (a token that is not a readable JWT).

    The claim is read, not verified: MSAL got the token from the authority over TLS, and the
    GUID only labels the run's public events (`entratenantid`) for consumers.
    """
    tid = _jwt_claims(access_token).get("tid")
    for candidate in (tid, tenant):
        if isinstance(candidate, str) and _GUID.fullmatch(candidate.lower()):
            return candidate.lower()
    return None


def _jwt_claims(token: str) -> dict[str, object]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):  # also JSON and UTF-8 decode errors
        return {}
    return claims if isinstance(claims, dict) else {}


def batch_id(run_id: str, object_type: ObjectType, seq: int, attempt: int = 1) -> str:
    """Stable id of a batch; a redelivered command gets distinct ids (see README of the run).

    A second attempt re-reads Graph, and its pages need not match the first attempt's: reusing
    the ids would let JetStream's duplicate window silently drop the new content.
    """
    base = f"{run_id}:{object_type}:{seq}"
    return base if attempt <= 1 else f"{base}:a{attempt}"


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
    """Bounds on retrying one Graph request: attempts, the total time spent waiting, and the
    longest `Retry-After` worth waiting for.

    A `Retry-After` is honoured in full: Graph keeps counting requests while a client is
    throttled (throttling.md), so a retry sent early is throttled again, for longer. One longer
    than `max_retry_after` fails the request at once, saying so, instead of waiting for it.
    """

    max_attempts: int = 10
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 300.0
    budget_seconds: float = 300.0

    def delay(
        self, attempt: int, retry_after: float | None, rng: random.Random | None = None
    ) -> float:
        """Wait before retry number `attempt` (1-based): Retry-After if given, else backoff."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)

    def too_long(self, retry_after: float | None) -> bool:
        """True when Graph asks for a longer wait than this syncer is configured to give."""
        return retry_after is not None and retry_after > self.max_retry_after

    def gives_up(self, attempt: int, waited: float, wait: float) -> bool:
        """True when retry `attempt` (waiting `wait` more after `waited`) is over budget."""
        return attempt >= self.max_attempts or waited + wait > self.budget_seconds
