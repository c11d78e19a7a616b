"""Running `entrasync-demo` as a real process and watching its process tree and output."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEMO = Path(sys.executable).parent / "entrasync-demo"


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of `pid`, or None once it is gone (reaped)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0], fields[19]


def descendants(root: int) -> dict[int, str]:
    """Every living process below `root` (and `root`): pid → start time."""
    parents: dict[int, int] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _stat(int(entry))) is not None:
            parents[int(entry)], starts[int(entry)] = info[0], info[2]
    found = {root} if root in starts else set()
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        grew = bool(more)
        found |= more
    return {pid: starts[pid] for pid in found}


def still_there(processes: dict[int, str]) -> list[int]:
    """Those of `processes` that still exist, zombies included (same pid and start time)."""
    return [pid for pid, start in processes.items() if (info := _stat(pid)) and info[2] == start]


@dataclass
class DemoRun:
    """`entrasync-demo` in its own session (its own process group, as a terminal would run
    it), with stdout and stderr collected line by line with their arrival times."""

    args: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)  # added to this process's environment
    proc: subprocess.Popen[bytes] = field(init=False)
    lines: list[tuple[float, str]] = field(default_factory=list)
    _reader: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.proc = subprocess.Popen(
            [str(DEMO), *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **self.env},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """The first output line matching `predicate`; fails with the output on timeout or exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, line in list(self.lines):
                if predicate(line):
                    return line
            if self.proc.poll() is not None:
                self._reader.join(5)
                break
            time.sleep(0.1)
        tail = "\n".join(line[:300] for _, line in self.lines[-40:])
        raise AssertionError(f"no such line (exit code {self.proc.poll()}); output:\n{tail}")

    def wait_for_children(self, count: int, timeout: float) -> None:
        """Until the demo's tree holds at least `count` processes besides itself."""
        deadline = time.monotonic() + timeout
        while len(descendants(self.proc.pid)) <= count:
            assert self.proc.poll() is None, self.text[-3000:]
            assert time.monotonic() < deadline, f"fewer than {count} processes started"
            time.sleep(0.1)

    def close(self) -> None:
        """Kill whatever is left (a failed test must not leave a demo running)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, 9)
        for pid in still_there(descendants(self.proc.pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
