"""Run all entrasync services as separate processes against given infrastructure.

Used by `make demo` and by the end-to-end tests: each service is started from its console
script exactly as an operator would run it, configured only through environment variables.
The web console is the last process: the stack makes up an admin account, an API token and a
session secret for it (`ServiceStack.console`) and serves it on a free local port. The receiver
of Graph's change notifications listens on another free local port over plain HTTP (the
simulator delivers on loopback); every service is told its URL (`ENTRASYNC_NOTIFICATION_URL`).
Every service gets a free health port too (`/livez`, `/readyz` and its Prometheus metrics at
`ServiceStack.metrics_url(service)`), unless its environment names one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx
from entrasync_shared.messages import Health
from entrasync_shared.natsutil import ApiCallError, call, connect
from entrasync_shared.subjects import Names
from entrasync_sim.launcher import SimulatorProcess

from entrasync_devtools.infra import die_with_parent, free_port
from entrasync_devtools.keys import new_encryption_key

SERVICES = ("config", "history", "syncer", "scheduler", "receiver", "console")
NATS_SERVICES = ("config", "history", "syncer", "scheduler", "receiver")
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class ConsoleAccess:
    """How to reach the stack's console: its URL, an admin login and an API token."""

    url: str
    admin_user: str
    admin_password: str
    api_token: str
    session_secret: str

    @classmethod
    def generate(cls, port: int) -> ConsoleAccess:
        return cls(
            url=f"http://127.0.0.1:{port}",
            admin_user="admin",
            admin_password=secrets.token_urlsafe(12),
            api_token="es_" + secrets.token_urlsafe(32),
            session_secret=secrets.token_urlsafe(48),
        )

    def environment(self, bindir: Path) -> dict[str, str]:
        """The console's settings: hashed password and token, never the plain values."""
        password_hash = _console_tool(bindir, "hash-password", stdin=self.admin_password)
        # The documented format of ENTRASYNC_CONSOLE_API_TOKENS entries.
        token_digest = "sha256:" + hashlib.sha256(self.api_token.encode()).hexdigest()
        port = self.url.rsplit(":", 1)[1]
        return {
            "ENTRASYNC_CONSOLE_HOST": "127.0.0.1",
            "ENTRASYNC_CONSOLE_PORT": port,
            "ENTRASYNC_CONSOLE_ADMINS": json.dumps({self.admin_user: password_hash}),
            "ENTRASYNC_CONSOLE_API_TOKENS": json.dumps({"demo": token_digest}),
            "ENTRASYNC_CONSOLE_SESSION_SECRET": self.session_secret,
        }


def _console_tool(bindir: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(bindir / "entrasync-console"), *args],
        input=None if stdin is None else stdin + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


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


def simulated_stack_settings(
    sim: SimulatorProcess,
    workdir: Path,
    label: str,
    *,
    prefix_label: str | None = None,
    cloud: str = "simlab",
    extra: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], str]:
    """Settings for a test stack syncing `sim` through custom cloud `cloud`, and its prefix.

    Databases are `<label>_config_<workdir>` / `<label>_history_<workdir>`, so stacks of one
    session never share state; the prefix isolates their subjects and streams.
    """
    settings = SimulatorCloud(cloud, sim.authority_host, sim.graph_url, sim.ca_file)
    env = {
        "ENTRASYNC_CLOUDS": settings.as_setting(),
        "ENTRASYNC_CONFIG_ENCRYPTION_KEY": new_encryption_key(),
        "ENTRASYNC_CONFIG_DB": f"{label}_config_{workdir.name}",
        "ENTRASYNC_HISTORY_DB": f"{label}_history_{workdir.name}",
        "ENTRASYNC_SCHEDULER_JITTER_SECONDS": "0",
        **(extra or {}),
    }
    prefix = (prefix_label or label) + workdir.name.replace("_", "").replace("-", "")[-8:]
    return env, prefix


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
    console: ConsoleAccess | None = None
    health_ports: dict[str, int] = field(default_factory=dict)
    receiver_port: int = 0
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def names(self) -> Names:
        return Names(self.prefix)

    def metrics_url(self, service: str) -> str:
        """Where `service` serves its Prometheus metrics (on its health port)."""
        return f"http://127.0.0.1:{self.health_ports[service]}/metrics"

    @property
    def receiver_url(self) -> str:
        """The receiver's base URL (Graph posts to `/notifications` and `/lifecycle`)."""
        assert self.receiver_port, "the stack runs no receiver"
        return f"http://127.0.0.1:{self.receiver_port}"

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
        if "receiver" in self.services:
            self.receiver_port = self.receiver_port or free_port()
            env.setdefault("ENTRASYNC_NOTIFICATION_URL", self.receiver_url)
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

    @property
    def console_url(self) -> str:
        assert self.console is not None, "the stack runs no console"
        return self.console.url

    def _spawn(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self._environment()
        bindir = Path(sys.executable).parent
        # The console starts last: hashing its password takes a moment the others use to start.
        for service in sorted(self.services, key=lambda name: name == "console"):
            service_env = {**env, **self.service_env.get(service, {})}
            if service == "console":
                if self.console is None:
                    self.console = ConsoleAccess.generate(free_port())
                service_env = {**service_env, **self.console.environment(bindir)}
                service_env.update(self.service_env.get(service, {}))
            if service == "receiver":
                service_env.setdefault("ENTRASYNC_RECEIVER_HOST", "127.0.0.1")
                service_env.setdefault("ENTRASYNC_RECEIVER_PORT", str(self.receiver_port))
            port = int(service_env.get("ENTRASYNC_HEALTH_PORT") or 0) or free_port()
            self.health_ports[service] = port
            service_env["ENTRASYNC_HEALTH_PORT"] = str(port)
            log = self.log_file(service).open("ab")
            self._logs.append(log)
            self._procs[service] = subprocess.Popen(
                [str(bindir / f"entrasync-{service}")],
                env=service_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,  # no service left behind if we are killed
            )

    async def _wait_healthy(self, deadline: float) -> None:
        nc = await connect(self.nats_url)
        http = httpx.AsyncClient(timeout=1, trust_env=False)
        try:
            pending = set(self.services)
            while pending:
                self.check_alive()
                for service in sorted(pending & set(NATS_SERVICES)):
                    with contextlib.suppress(ApiCallError):
                        subject = self.names.api(service, "health")
                        health = await call(nc, subject, None, Health, timeout=1)
                        if health.ok:
                            pending.discard(service)
                if "console" in pending:
                    with contextlib.suppress(httpx.HTTPError):
                        ready = await http.get(f"{self.console_url}/readyz")
                        if ready.status_code == 200:
                            pending.discard("console")
                if pending and time.monotonic() > deadline:
                    raise RuntimeError(f"services not healthy in time: {sorted(pending)}")
                await asyncio.sleep(0.1)
        finally:
            await http.aclose()
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
