"""Opaque delta/skip tokens: base64url of compact JSON carrying a round's state."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, fields, replace
from typing import Any

import orjson

from entrasync_sim.schema import Kind, parse_kind

TOKEN_VERSION = 2


class TokenError(Exception):
    """A token that cannot be used: garbled, or issued for another tenant or resource."""


@dataclass(frozen=True)
class RoundState:
    """Where a delta round stands.

    `since` is None for a full round, else the sequence the previous round ended at; `upto` is
    the tenant sequence when this round started. `cursor` is the last id emitted (paging is by
    id, never by offset) and `slice_index` the next member slice of that object still due.
    `issued_at` (POSIX seconds, simulated clock) lets stale links expire; `generation` is the
    tenant's reset generation for the kind when the round started (a reset makes older links
    answer 410); `replay_since` is where the previous round started, so changes of that round
    can be replayed; `hops` marks a page already preceded by an injected empty page.
    """

    kind: Kind
    tenant_id: str
    select: tuple[str, ...] | None
    since: int | None
    upto: int
    cursor: str = ""
    slice_index: int = 0
    issued_at: int = 0
    generation: int = 0
    replay_since: int | None = None
    hops: int = 0

    def next_round(self, issued_at: int) -> RoundState:
        """The state a deltaLink carries: the next round starts where this one ended."""
        return replace(
            self,
            since=self.upto,
            replay_since=self.since,
            cursor="",
            slice_index=0,
            issued_at=issued_at,
            hops=0,
        )


def encode_token(state: RoundState) -> str:
    """Serialise a round state as an opaque URL-safe token."""
    payload = {"v": TOKEN_VERSION, **{name: getattr(state, name) for name in _FIELDS}}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()


_FIELDS = tuple(f.name for f in fields(RoundState))


def decode_token(token: str, tenant_id: str) -> RoundState:
    """Parse a token issued in `tenant_id` (for any kind); raise TokenError otherwise."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload.pop("v") != TOKEN_VERSION:
            raise TokenError("Badly formed token.")
        token_kind = parse_kind(payload.pop("kind"))
        if token_kind is None:
            raise ValueError("unknown kind")
        select = payload.pop("select")
        state = RoundState(
            kind=token_kind,
            select=None if select is None else tuple(str(p) for p in select),
            **payload,
        )
        _check_types(state)
    # orjson.JSONDecodeError is a ValueError.
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
        raise TokenError("Badly formed token.") from exc
    if state.tenant_id != tenant_id:
        raise TokenError("Badly formed token.")
    return state


def _check_types(state: RoundState) -> None:
    ints = [state.upto, state.slice_index, state.issued_at, state.generation, state.hops]
    ints += [v for v in (state.since, state.replay_since) if v is not None]
    if not all(type(v) is int and v >= 0 for v in ints):
        raise ValueError("bad integers")
    if not isinstance(state.cursor, str) or not isinstance(state.tenant_id, str):
        raise ValueError("bad strings")
