"""Run the simulator as a real child process (tests, benchmarks and demo tools)."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def _optional_counts(**counts: int | None) -> list[str]:
    """`--service-principals N` and the like for the counts given (None: scaled with users)."""
    args: list[str] = []
    for name, value in counts.items():
        if value is not None:
            args += [f"--{name.replace('_', '-')}", str(value)]
    return args


class SimulatorProcess:
    """`with SimulatorProcess(users=50) as sim:` starts `entrasync-sim serve` on a free port.

    The child's stderr goes to `<state_dir>/simulator.log`; its first stdout line is the ready
    document, exposed as `ready` (plus shortcuts). On exit the child gets SIGTERM, then SIGKILL.
    """

    def __init__(
        self,
        *,
        users: int = 100,
        groups: int = 10,
        devices: int = 20,
        service_principals: int | None = None,
        applications: int | None = None,
        contacts: int | None = None,
        administrative_units: int | None = None,
        page_size: int = 200,
        seed: int = 1,
        tenants: int = 1,
        extra_args: Sequence[str] = (),
        state_dir: Path | None = None,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        self._state_dir = state_dir
        self._ready_timeout = ready_timeout
        self._args = [
            *("--users", str(users), "--groups", str(groups), "--devices", str(devices)),
            *("--page-size", str(page_size), "--seed", str(seed), "--tenants", str(tenants)),
            *_optional_counts(
                service_principals=service_principals,
                applications=applications,
                contacts=contacts,
                administrative_units=administrative_units,
            ),
            *extra_args,
        ]
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.ready: dict[str, Any] = {}
        self.returncode: int | None = None

    @property
    def state_dir(self) -> Path:
        """Directory holding the CA, server certificate and `simulator.log`."""
        assert self._state_dir is not None, "not started"
        return self._state_dir

    @property
    def pid(self) -> int:
        """The child's process id (benchmarks read its CPU time and memory)."""
        assert self._process is not None, "not started"
        return self._process.pid

    @property
    def log_file(self) -> Path:
        return self.state_dir / "simulator.log"

    @property
    def control_url(self) -> str:
        return str(self.ready["control_url"])

    @property
    def authority_host(self) -> str:
        return str(self.ready["authority_host"])

    @property
    def graph_url(self) -> str:
        return str(self.ready["graph_url"])

    @property
    def ca_file(self) -> str:
        return str(self.ready["ca_file"])

    @property
    def tenants(self) -> list[dict[str, Any]]:
        return list(self.ready["tenants"])

    def start(self) -> Self:
        """Start the child and wait for its ready line; RuntimeError if it never comes."""
        if self._state_dir is None:
            self._state_dir = Path(tempfile.mkdtemp(prefix="entrasync-sim-"))
        self._state_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "entrasync_sim", "serve", "--port", "0"]
        command += [*self._args, "--state-dir", str(self._state_dir)]
        self._log = open(self.log_file, "wb")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL
        )
        try:
            self.ready = json.loads(self._read_ready_line())
        except BaseException:
            self.stop()
            raise
        return self

    def _read_ready_line(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        buffer = b""
        deadline = time.monotonic() + self._ready_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(
                        self._failure(f"no ready line within {self._ready_timeout} s")
                    )
                if not selector.select(timeout=remaining):
                    continue
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    self._process.wait(STOP_TIMEOUT)
                    code = self._process.returncode
                    raise RuntimeError(self._failure(f"process exited with {code}"))
                buffer += chunk
        return buffer.split(b"\n", 1)[0].decode()

    def _failure(self, reason: str) -> str:
        if self._log is not None:
            self._log.flush()
        stderr = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return f"entrasync-sim did not start: {reason}\n--- stderr ---\n{stderr[-4000:]}"

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after 10 s) and close its pipes."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self.returncode = process.returncode
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
