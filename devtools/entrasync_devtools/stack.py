"""Run all entrasync services as separate processes against given infrastructure.

Used by `make demo` and by the end-to-end tests: each service is started from its console
script exactly as an operator would run it, configured only through environment variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import nats
from entrasync_shared.messages import Health
from entrasync_shared.natsutil import ApiCallError, call
from entrasync_shared.subjects import Names

SERVICES = ("config", "history", "syncer", "scheduler")
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class SimulatorCloud:
    """A custom cloud entry pointing the services at a Graph/Entra endpoint with its own CA."""

    name: str
    authority_host: str
    graph_url: str
    ca_file: str

    def as_setting(self) -> str:
        body = {"authority_host": self.authority_host, "graph_url": self.graph_url}
        return json.dumps({self.name: {**body, "ca_file": self.ca_file}})


@dataclass
class ServiceStack:
    """`with ServiceStack(nats_url, mongodb_uri, workdir, env) as stack:` runs every service."""

    nats_url: str
    mongodb_uri: str
    workdir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""
    services: tuple[str, ...] = SERVICES
    service_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def names(self) -> Names:
        return Names(self.prefix)

    def log_file(self, service: str) -> Path:
        return self.workdir / f"{service}.log"

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
        env.update(
            ENTRASYNC_NATS_URL=self.nats_url,
            ENTRASYNC_MONGODB_URI=self.mongodb_uri,
            ENTRASYNC_PREFIX=self.prefix,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env)
        return env

    def start(self) -> Self:
        """Start every service and wait until each answers its health API."""
        try:
            self._spawn()
            asyncio.run(self._wait_healthy(deadline=time.monotonic() + 60))
        except BaseException:
            self.stop()
            raise
        return self

    async def astart(self) -> Self:
        """`start` for callers already inside an event loop."""
        try:
            self._spawn()
            await self._wait_healthy(deadline=time.monotonic() + 60)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self._environment()
        bindir = Path(sys.executable).parent
        for service in self.services:
            log = self.log_file(service).open("ab")
            self._logs.append(log)
            self._procs[service] = subprocess.Popen(
                [str(bindir / f"entrasync-{service}")],
                env={**env, **self.service_env.get(service, {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def _wait_healthy(self, deadline: float) -> None:
        nc = await nats.connect(self.nats_url)
        try:
            pending = set(self.services)
            while pending:
                self.check_alive()
                for service in sorted(pending):
                    with contextlib.suppress(ApiCallError):
                        subject = self.names.api(service, "health")
                        health = await call(nc, subject, None, Health, timeout=1)
                        if health.ok:
                            pending.discard(service)
                if pending and time.monotonic() > deadline:
                    raise RuntimeError(f"services not healthy in time: {sorted(pending)}")
                await asyncio.sleep(0.1)
        finally:
            await nc.close()

    def check_alive(self) -> None:
        """Raise with the log tail if any service process has exited."""
        for service, proc in self._procs.items():
            if proc.poll() is not None:
                tail = self.log_file(service).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{service} exited with {proc.returncode}:\n{tail}")

    def stop(self) -> None:
        """SIGTERM every service (graceful shutdown), SIGKILL stragglers."""
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._procs.values():
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def __enter__(self) -> Self:
        return self.start()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
