"""Helpers for the scheduler's integration tests (plain module, not a conftest)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from entrasync_devtools.infra import die_with_parent
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    StartSync,
    SyncRecorded,
    Tenant,
    TenantCreate,
    TypeCounts,
    sync_recorded_event,
    utcnow,
)
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from support.polling import eventually

INTERVAL = 10  # the shortest interval TenantCreate allows


_CONSUMED: dict[str, list[RawStreamMsg]] = {}
"""Commands `finish_run` took off the queue, by test prefix: `commands` still lists them."""


async def commands(nc: NatsClient, names: Names, tenant_id: str) -> list[RawStreamMsg]:
    """Every StartSync queued for the tenant, oldest first, including those already consumed
    by `finish_run` (no syncer runs here: the test plays its part)."""
    js, seq = nc.jetstream(), 1
    subject = names.sync_command(tenant_id)
    found = [m for m in _CONSUMED.get(names.prefix, []) if m.subject == subject]
    while True:
        try:
            msg = await js.get_msg(names.commands_stream, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return sorted(found, key=lambda m: m.seq or 0)
        found.append(msg)
        seq = (msg.seq or seq) + 1


async def consume(nc: NatsClient, names: Names, msg: RawStreamMsg) -> None:
    """What a syncer's ack does: the command leaves the work queue."""
    await nc.jetstream().delete_msg(names.commands_stream, msg.seq or 0)
    _CONSUMED.setdefault(names.prefix, []).append(msg)


async def finish_run(nc: NatsClient, names: Names, msg: RawStreamMsg, status: str) -> None:
    """Play syncer and history for the queued command `msg`: consume it, record the run."""
    await consume(nc, names, msg)
    await report_run(nc, names, start_sync(msg), status)


def start_sync(msg: RawStreamMsg) -> StartSync:
    return StartSync.model_validate_json(msg.data or b"")


async def create_tenant(nc: NatsClient, names: Names, domain: str, **extra: object) -> Tenant:
    """A credential profile plus a tenant, created through config's API."""
    profile: CredentialProfile = await call(
        nc,
        names.api("config", "profile.create"),
        CredentialProfileCreate(
            name=f"app-{domain}",
            client_id="11111111-2222-3333-4444-555555555555",
            client_secret="s",
        ),
        CredentialProfile,
    )
    request = TenantCreate.model_validate(
        {"tenant": domain, "profile_id": profile.id, "interval_seconds": INTERVAL, **extra}
    )
    return await call(nc, names.api("config", "tenant.create"), request, Tenant)


async def report_run(nc: NatsClient, names: Names, command: StartSync, status: str) -> None:
    """Publish the `sync.recorded` event history would publish at the end of the run."""
    now = utcnow()
    event = SyncRecorded.model_validate(
        {
            "tenant_id": command.tenant_id,
            "run_id": command.run_id,
            "mode": command.mode,
            "reason": command.reason,
            "status": status,
            "started_at": now,
            "finished_at": now,
            "types": [
                TypeCounts(object_type=t, mode=command.mode, reason=command.reason, status=status)
                for t in command.object_types
            ],
        }
    )
    await nc.jetstream().publish(
        names.sync_recorded(command.tenant_id),
        sync_recorded_event(event).model_dump_json().encode(),
        stream=names.events_stream,
        headers={"Nats-Msg-Id": f"recorded:{command.run_id}"},
    )


class ServiceProcess:
    """One entrasync service run by its console script with only environment settings."""

    def __init__(self, script: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._script, self._env = script, env
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServiceProcess:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ENTRASYNC_") and k not in ("NATS_URL", "MONGODB_URI")
        }
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(
                [str(Path(sys.executable).parent / self._script)],
                env={**base, **self._env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for_line(self, text: str, within: float = 20.0) -> None:
        async def probe() -> str:
            if self._proc is not None and self._proc.poll() is not None:
                raise AssertionError(f"{self._script} exited:\n{self.output()}")
            return self.output()

        await eventually(probe, accept=lambda out: text in out, within=within)

    def stop(self, within: float = 20.0) -> int:
        """SIGTERM, as Kubernetes does; returns the exit code."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        return self._proc.wait(within)
