"""An HTTP `CONNECT` proxy as a process of its own on loopback: the egress proxy of the tests.

`ConnectProxy(hosts={"sim.lab.example": "127.0.0.1"})` starts `python connect_proxy.py` and
learns its port. Names in `hosts` are resolved by the proxy only: a client that cannot resolve
them (they are under `.example`, which no DNS answers) reaches them through the proxy or not at
all, as behind an enterprise firewall that blocks direct egress. With `auth="user:password"` the
proxy answers 407 to a `CONNECT` without that `Proxy-Authorization`. `tunnels()` asks the
running proxy which `CONNECT`s it relayed (`GET /tunnels`, the only other request it serves).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
from entrasync_devtools.infra import die_with_parent


class ConnectProxy:
    """`with ConnectProxy(hosts) as proxy:` — `proxy.url` for clients, `proxy.tunnels()`."""

    def __init__(self, hosts: Mapping[str, str], *, auth: str | None = None) -> None:
        self._args = [f"--map={name}={address}" for name, address in hosts.items()]
        if auth:
            self._args.append(f"--auth={auth}")
        self._auth = auth
        self._proc: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The proxy URL a client is given (with the credentials when it requires some)."""
        return f"http://{self._auth + '@' if self._auth else ''}127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__)), *self._args],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # {"port": N} once it listens
        if not line:
            self.__exit__(None, None, None)
            raise RuntimeError("the CONNECT proxy did not start")
        self.port = int(json.loads(line)["port"])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None

    def tunnels(self) -> list[str]:
        """`host:port` of every `CONNECT` relayed so far, in order."""
        response = httpx.get(f"http://127.0.0.1:{self.port}/tunnels", trust_env=False)
        response.raise_for_status()
        tunnels: list[str] = response.json()
        return tunnels


class _Proxy:
    def __init__(self, hosts: dict[str, str], auth: str | None) -> None:
        self.hosts = hosts
        self.expected = f"Basic {base64.b64encode(auth.encode()).decode()}" if auth else None
        self.tunnels: list[str] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            headers = _headers(head)
            if method == "GET" and target == "/tunnels":
                await _answer(writer, "200 OK", json.dumps(self.tunnels).encode())
            elif method != "CONNECT":
                await _answer(writer, "405 Method Not Allowed")
            elif self.expected and headers.get("proxy-authorization") != self.expected:
                await _answer(writer, "407 Proxy Authentication Required", auth=True)
            else:
                await self._tunnel(target, reader, writer)
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, port = target.rsplit(":", 1)
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.hosts.get(host, host), int(port)
            )
        except OSError:
            await _answer(writer, "502 Bad Gateway")
            return
        self.tunnels.append(target)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    pairs = [line.split(":", 1) for line in lines if ":" in line]
    return {name.strip().lower(): value.strip() for name, value in pairs}


async def _answer(
    writer: asyncio.StreamWriter, status: str, body: bytes = b"", *, auth: bool = False
) -> None:
    extra = 'Proxy-Authenticate: Basic realm="test"\r\n' if auth else ""
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}"
        "Connection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.write_eof()


async def _main(hosts: dict[str, str], auth: str | None) -> None:
    proxy = _Proxy(hosts, auth)
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--map", action="append", default=[], help="name=address")
    parser.add_argument("--auth", help="user:password the proxy requires")
    args = parser.parse_args()
    mapped = dict(entry.split("=", 1) for entry in args.map)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(mapped, args.auth))
