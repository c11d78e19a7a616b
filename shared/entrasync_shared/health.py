"""Liveness and readiness over plain HTTP for Kubernetes probes (stdlib only).

`GET /livez` answers 200 while the event loop runs. `GET /readyz` runs every readiness check
(e.g. "NATS connected", "MongoDB answers ping") with a timeout and answers 200 when all pass,
else 503 — both with a small JSON body naming each check's result. `GET /metrics` answers the
process's Prometheus metrics (`kit.metrics`). Anything else is 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from entrasync_shared.kit import metrics

log = logging.getLogger("entrasync.health")

Check = Callable[[], Awaitable[bool]]


class HealthServer:
    """`await HealthServer(8080, {"nats": nats_ok}).start()`; `await server.stop()` on shutdown."""

    def __init__(
        self, port: int, checks: Mapping[str, Check], *, host: str = "0.0.0.0", timeout: float = 2.0
    ) -> None:
        self._port, self._host, self._timeout = port, host, timeout
        self._checks = dict(checks)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when started with port 0)."""
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info("health endpoints on :%d (/livez, /readyz, /metrics)", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def readiness(self) -> dict[str, bool]:
        results: dict[str, bool] = {}
        for name, check in self._checks.items():
            try:
                results[name] = bool(await asyncio.wait_for(check(), self._timeout))
            except Exception:  # a failing check means "not ready", whatever the reason
                results[name] = False
        return results

    async def _answer(self, path: str) -> tuple[int, str, bytes]:
        """Status, content type and body of a GET of `path`."""
        if path == "/metrics":
            return 200, metrics.CONTENT_TYPE, await metrics.exposition()
        body: dict[str, object]
        if path == "/livez":
            status, body = 200, {"status": "alive"}
        elif path == "/readyz":
            checks = await self.readiness()
            status = 200 if all(checks.values()) else 503
            body = {"status": "ready" if status == 200 else "not ready", "checks": checks}
        else:
            status, body = 404, {"status": "not found"}
        return status, "application/json", json.dumps(body).encode()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), self._timeout)
            while (await asyncio.wait_for(reader.readline(), self._timeout)) not in (b"\r\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else ""
            status, content_type, payload = await self._answer(path)
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            head = (
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n"
                f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n"
            )
            writer.write(head.encode() + payload)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class HealthHooks:
    """Start/stop hooks for a FastStream app; does nothing when `port` is 0 (local runs)."""

    def __init__(self, port: int, checks: Mapping[str, Check]) -> None:
        self._server = HealthServer(port, checks) if port else None

    async def start(self) -> None:
        if self._server is not None:
            await self._server.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()


def nats_connected(connection: Callable[[], object]) -> Check:
    """A readiness check: the NATS connection returned by `connection()` is up."""

    async def check() -> bool:
        client = connection()
        return bool(client is not None and getattr(client, "is_connected", False))

    return check


def mongo_answers(client: object) -> Check:
    """A readiness check: MongoDB answers `ping` (PyMongo's AsyncMongoClient)."""

    async def check() -> bool:
        reply = await client.admin.command("ping")  # type: ignore[attr-defined]
        return bool(reply.get("ok"))

    return check
