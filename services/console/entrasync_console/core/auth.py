"""Who may use the console: admin accounts, API tokens, sessions, login throttling.

A session is a signed, expiring cookie (HMAC-SHA256 with the session secret, shared by every
replica) carrying the session's id, its CSRF token and its admin's generation. Signing alone
cannot end a session before it expires, so two checks run on every request:

- the admin still exists with the same password hash (`Accounts.generation`): admins live in
  the console's settings (a Secret every replica mounts), so removing an admin or changing a
  password ends their sessions on each replica as it reads the new Secret, with no other state;
- the session id is still in the `SessionStore`, a NATS KV bucket every replica shares (the
  console keeps no state of its own and may run several replicas; NATS is the one store they
  all reach, and KV answers a key lookup in well under a millisecond). Logging out deletes the
  key, which ends the session everywhere at once.

Passwords are argon2 hashes; API tokens are random and stored as SHA-256 digests (like a
password manager's, fast to check on every request and useless if leaked); neither involves
sessions.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "es_"
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked when the user does not exist, so a wrong name costs as much as a wrong password."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def new_token() -> tuple[str, str]:
    """A new API token and the `sha256:<hex>` digest to configure for it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who made a request, and how they proved it."""

    name: str
    via: Literal["session", "token"]
    csrf: str = ""


class Accounts:
    """Admin accounts (argon2) and API tokens (SHA-256 digests)."""

    def __init__(self, admins: dict[str, str], tokens: dict[str, str]) -> None:
        self._admins = dict(admins)
        self._tokens = {digest.lower(): name for name, digest in tokens.items()}

    def check_password(self, user: str, password: str) -> bool:
        """True for a known user with this password (slow on purpose: run it in a thread)."""
        stored = self._admins.get(user)
        try:
            return _HASHER.verify(stored or _dummy_hash(), password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def generation(self, user: str) -> str | None:
        """Changes when the admin's password does; None once the admin is removed."""
        stored = self._admins.get(user)
        if stored is None:
            return None
        return hashlib.sha256(b"entrasync-admin-generation:" + stored.encode()).hexdigest()[:16]

    def token_owner(self, token: str) -> str | None:
        digest = token_digest(token)
        for known, name in self._tokens.items():
            if hmac.compare_digest(known, digest):
                return name
        return None


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    expires: float
    sid: str
    generation: str


class StoreUnavailable(Exception):
    """The session store cannot be reached (NATS down): nobody can be let in or out."""


class SessionStore(Protocol):
    """The sessions that are live: logging out removes one for every replica."""

    async def add(self, sid: str, user: str) -> None: ...

    async def holds(self, sid: str, user: str) -> bool: ...

    async def remove(self, sid: str) -> None: ...


class SessionCodec:
    """Signs and reads session cookies; a tampered or expired cookie reads as no session."""

    def __init__(self, secret: str, lifetime_seconds: float, clock: Callable[[], float]) -> None:
        self._key = hashlib.sha256(b"entrasync-console-session:" + secret.encode()).digest()
        self._lifetime = lifetime_seconds
        self._clock = clock

    @property
    def lifetime(self) -> int:
        return int(self._lifetime)

    def issue(self, user: str, generation: str) -> tuple[str, Session]:
        session = Session(
            user,
            secrets.token_urlsafe(24),
            self._clock() + self._lifetime,
            secrets.token_hex(16),
            generation,
        )
        body = {
            "u": session.user,
            "c": session.csrf,
            "e": int(session.expires),
            "s": session.sid,
            "g": session.generation,
        }
        return self.sign(body), session

    def read(self, cookie: str | None) -> Session | None:
        body = self.verify(cookie)
        if body is None or not isinstance(expires := body.get("e"), int | float):
            return None
        try:
            session = Session(
                str(body["u"]), str(body["c"]), float(expires), str(body["s"]), str(body["g"])
            )
        except KeyError:
            return None
        return session if session.expires > self._clock() else None

    def sign(self, body: dict[str, object]) -> str:
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}"

    def verify(self, value: str | None) -> dict[str, object] | None:
        if not value or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class _Failures:
    count: int = 0
    wait_until: float = 0.0
    forget_at: float = 0.0


class LoginThrottle:
    """Growing waits between failed logins of one user name from one client address.

    The first `max_failures` failures of an (address, user) pair cost nothing; then each one
    makes the pair wait `first_delay`, doubled per further failure up to `max_delay`. A success
    forgets the pair; so does `window` seconds of quiet after its last wait. Keyed on the pair on
    purpose: strangers failing from elsewhere never stop the right password (no lock-out of the
    admin by anyone who knows the name), while one address still cannot guess faster than once
    per `max_delay`. Per process: each replica throttles on its own — the console keeps no shared
    state for this, which bounds guessing to one try per `max_delay` per replica.
    """

    MAX_PAIRS = 10_000

    def __init__(
        self,
        max_failures: int,
        first_delay: float,
        max_delay: float,
        window: float,
        clock: Callable[[], float],
    ) -> None:
        self._max, self._first, self._cap = max_failures, first_delay, max_delay
        self._window, self._clock = window, clock
        self._pairs: dict[tuple[str, str], _Failures] = {}

    def delay_after(self, failures: int) -> float:
        """Seconds a pair waits after its `failures`-th failure in a row."""
        if failures < self._max:
            return 0.0
        return min(self._first * 2.0 ** min(failures - self._max, 60), self._cap)

    def retry_after(self, address: str, user: str) -> int:
        """Whole seconds until this pair may try again; 0 when it may try now."""
        found = self._current(self._key(address, user))
        wait = found.wait_until - self._clock() if found else 0.0
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, address: str, user: str) -> float:
        """Count a failure; the seconds the pair must now wait."""
        key = self._key(address, user)
        found = self._current(key) or self._add(key)
        found.count += 1
        delay = self.delay_after(found.count)
        now = self._clock()
        found.wait_until = now + delay
        found.forget_at = now + delay + self._window
        return delay

    def succeeded(self, address: str, user: str) -> None:
        self._pairs.pop(self._key(address, user), None)

    @staticmethod
    def _key(address: str, user: str) -> tuple[str, str]:
        return address, user.lower()

    def _current(self, key: tuple[str, str]) -> _Failures | None:
        found = self._pairs.get(key)
        if found is not None and found.forget_at <= self._clock():
            del self._pairs[key]
            return None
        return found

    def _add(self, key: tuple[str, str]) -> _Failures:
        if len(self._pairs) >= self.MAX_PAIRS:
            self._evict()
        found = self._pairs[key] = _Failures()
        return found

    def _evict(self) -> None:
        """Bound memory under a spray of made-up names: drop what imposes no wait first."""
        now = self._clock()
        for key in [k for k, v in self._pairs.items() if v.wait_until <= now]:
            del self._pairs[key]
        while len(self._pairs) >= self.MAX_PAIRS:
            del self._pairs[next(iter(self._pairs))]


def wall_clock() -> float:
    """Seconds since the epoch: session expiry must mean the same on every replica."""
    return time.time()
