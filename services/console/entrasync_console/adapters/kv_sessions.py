"""Live login sessions in the NATS KV bucket `Names.session_bucket` (`auth.SessionStore`)."""

from __future__ import annotations

from entrasync_shared.natsutil import ensure_session_bucket
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from entrasync_console.core.auth import StoreUnavailable


class KvSessionStore:
    """Key: the session id (random hex); value: its admin's name."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def add(self, sid: str, user: str) -> None:
        try:
            await self._kv.put(sid, user.encode())
        except NatsError as err:
            raise StoreUnavailable(f"cannot record the session: {err!r}") from None

    async def holds(self, sid: str, user: str) -> bool:
        try:
            entry = await self._kv.get(sid)
        except NotFoundError:  # never there, logged out (a delete marker) or expired
            return False
        except NatsError as err:
            raise StoreUnavailable(f"cannot check the session: {err!r}") from None
        return entry.value == user.encode()

    async def remove(self, sid: str) -> None:
        try:
            await self._kv.delete(sid)
        except NatsError as err:
            raise StoreUnavailable(f"cannot end the session: {err!r}") from None


async def open_session_store(nc: NatsClient, names: Names) -> KvSessionStore:
    """The store over the shared bucket; a clear error when it is missing and cannot be made."""
    try:
        return KvSessionStore(await ensure_session_bucket(nc.jetstream(), names))
    except NatsError as err:
        raise RuntimeError(
            f"the session bucket {names.session_bucket} is missing and could not be created "
            f"({err!r}); run `entrasync-infra declare` with an admin NATS user"
        ) from err
