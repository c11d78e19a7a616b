"""One run per tenant at a time: a lease in the cursor bucket, key `<tenant>._run`.

The value says which run holds the tenant, which worker, until when, and whether that run is
done. Every write is a compare-and-set on the key's revision, so two workers can never both
believe they hold it. A holder renews the lease with each keepalive; a dead holder's lease
simply runs out. A finished run stays recorded as `done`, so a redelivered copy of its command
is recognised and acknowledged without reading Graph again.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from entrasync_syncer.ports import (
    InfrastructureError,
    Lease,
    LeaseHeld,
    LeaseLost,
    RunAlreadyDone,
)

_NATS_FAILURES = (nats.errors.Error, TimeoutError)


def lease_key(tenant_id: str) -> str:
    return f"{tenant_id}._run"


class KvRunLeases:
    """Implements `RunLeases` with compare-and-set writes to a JetStream KV bucket."""

    def __init__(
        self,
        open_bucket: Callable[[], Awaitable[KeyValue]],
        ttl: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._open_bucket = open_bucket
        self._bucket: KeyValue | None = None
        self._ttl = ttl
        self._clock = clock
        self.owner = uuid.uuid4().hex  # this process

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self._open_bucket()
        return self._bucket

    def _value(self, run_id: str, state: str) -> bytes:
        until = self._clock() + self._ttl
        body = {"run_id": run_id, "owner": self.owner, "until": until, "state": state}
        return json.dumps(body).encode()

    async def acquire(self, tenant_id: str, run_id: str) -> Lease:
        key = lease_key(tenant_id)
        try:
            kv = await self._kv()
            try:
                revision = await kv.create(key, self._value(run_id, "running"))
                return Lease(tenant_id, run_id, revision)
            except KeyWrongLastSequenceError:
                pass
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:
                raise LeaseHeld(f"lease {key} changed hands; try again") from None
            current = _decode(entry.value)
            if current.get("run_id") == run_id and current.get("state") == "done":
                raise RunAlreadyDone(f"run {run_id} already finished")
            live = current.get("state") == "running" and float(current.get("until", 0)) > (
                self._clock()
            )
            if live and current.get("owner") != self.owner:
                raise LeaseHeld(f"run {current.get('run_id')} holds tenant {tenant_id}")
            try:
                revision = await kv.update(key, self._value(run_id, "running"), last=entry.revision)
            except KeyWrongLastSequenceError:
                raise LeaseHeld(f"lease {key} changed hands; try again") from None
            return Lease(tenant_id, run_id, revision)
        except _NATS_FAILURES as exc:
            raise InfrastructureError(f"lease {key}: {exc!r}") from exc

    async def renew(self, lease: Lease) -> Lease:
        key = lease_key(lease.tenant_id)
        try:
            kv = await self._kv()
            revision = await kv.update(
                key, self._value(lease.run_id, "running"), last=lease.revision
            )
        except KeyWrongLastSequenceError:
            raise LeaseLost(f"lease {key} of run {lease.run_id} was taken over") from None
        except _NATS_FAILURES as exc:
            raise InfrastructureError(f"renewing lease {key}: {exc!r}") from exc
        return Lease(lease.tenant_id, lease.run_id, revision)

    async def release(self, lease: Lease, *, done: bool) -> None:
        key = lease_key(lease.tenant_id)
        try:
            kv = await self._kv()
            if done:
                await kv.update(key, self._value(lease.run_id, "done"), last=lease.revision)
            else:
                await kv.delete(key, last=lease.revision)
        except KeyWrongLastSequenceError:
            return  # someone else holds it now; nothing of ours to give back
        except _NATS_FAILURES as exc:
            raise InfrastructureError(f"releasing lease {key}: {exc!r}") from exc


def _decode(value: bytes | None) -> dict[str, Any]:
    try:
        body = json.loads(value or b"")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
