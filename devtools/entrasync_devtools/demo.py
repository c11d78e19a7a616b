"""`make demo`: the whole system on this machine, syncing simulated tenants until Ctrl-C.

Starts real nats-server (with the per-service users of deploy/overlays/dev) and mongod (or uses
NATS_URL / MONGODB_URI), the Graph/Entra simulator with a few hundred users in each of
`--tenants` directories, every service as its own process (the web console too, with a made-up
admin account and API token), registers each simulated directory through the config API, waits
for their first syncs, prints one machine-readable `entrasync demo ready: {...}` line plus a few
hints, and shows each public change event once.

Ctrl-C stops everything within a few seconds and removes the work directory (unless `--keep`);
a second Ctrl-C kills at once.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from entrasync_devtools.infra import die_with_parent

# How long the worker may take to stop in order (services, simulator, mongod, nats-server)
# before the supervisor kills what is left: the whole stop must fit in 5 seconds.
GRACE_SECONDS = 2.5
REAP_SECONDS = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return number

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The demo's options (the worker process parses the same ones, plus its work directory)."""
    parser = argparse.ArgumentParser(
        prog="entrasync-demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tenants", type=_at_least(1), default=2, help="simulated directories")
    parser.add_argument("--users", type=_at_least(0), default=300, help="users per directory")
    parser.add_argument("--groups", type=_at_least(0), default=25, help="groups per directory")
    parser.add_argument("--devices", type=_at_least(0), default=60, help="devices per directory")
    parser.add_argument(
        "--interval", type=_at_least(10), default=15, help="sync interval in seconds (10+)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, data) after Ctrl-C"
    )
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    return parser


class _Requests:
    """Stop requests (Ctrl-C, SIGTERM, SIGHUP) counted by the signal handler."""

    def __init__(self) -> None:
        self.count = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1


@contextlib.contextmanager
def _ignoring(signum: signal.Signals) -> Iterator[None]:
    previous = signal.signal(signum, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signum, previous)


@contextlib.contextmanager
def own_foreground_group() -> Iterator[None]:
    """On a terminal, make this process the only member of the terminal's foreground process
    group while the demo runs (what a shell does for a job), and give the terminal back after.

    A terminal's Ctrl-C signals its whole foreground group: under `make demo` that is make, uv
    and this process. make dies of the signal itself (exit 130, "Error" when its child did),
    whatever the demo does; with the terminal to ourselves, only the demo hears Ctrl-C, and
    uv and make exit with the demo's code.
    """
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_CLOEXEC)
    except OSError:  # no controlling terminal (CI, tests, nohup)
        yield
        return
    try:
        try:
            original = os.tcgetpgrp(tty)
        except OSError:
            original = -1
        mine = os.getpgrp()
        if original != mine or mine == os.getpid():
            # In the background, or a shell already made us a job of our own: nothing to take.
            yield
            return
        with _ignoring(signal.SIGTTOU):  # tcsetpgrp from a background group would stop us
            os.setpgid(0, 0)
            os.tcsetpgrp(tty, os.getpid())
        # The shell knows nothing of our group and could never resume it after Ctrl-Z.
        with _ignoring(signal.SIGTSTP):
            try:
                yield
            finally:
                with _ignoring(signal.SIGTTOU), contextlib.suppress(OSError):
                    os.tcsetpgrp(tty, original)
    finally:
        os.close(tty)


def _become_subreaper() -> None:
    """Processes orphaned by the worker are re-parented to us, so we can reap them (no zombies
    left to a container's init) and know when the last one is gone."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


class Supervisor:
    """Runs the demo's worker in its own process group and stops it on request, in time."""

    def __init__(self, worker_argv: list[str]) -> None:
        self._argv = worker_argv
        self._requests = _Requests()
        self._worker: subprocess.Popen[bytes] | None = None
        self._status: int | None = None
        self.stopped_by_user = False

    def run(self) -> int:
        """The worker's exit code (0 when the user stopped it)."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._requests.handle)
        _become_subreaper()
        # Its own process group: a terminal's Ctrl-C reaches only us, and we stop the
        # services before the NATS server they talk to, instead of all at once.
        self._worker = subprocess.Popen(
            self._argv,
            stdin=subprocess.DEVNULL,
            process_group=0,
            preexec_fn=die_with_parent,  # the worker stops in order if we are killed
        )
        self._supervise()
        self._kill_group()
        self._reap_all(time.monotonic() + REAP_SECONDS)
        if self.stopped_by_user:
            return 0
        status = self._status if self._status is not None else 1
        return status if status >= 0 else 128 - status

    def _supervise(self) -> None:
        assert self._worker is not None
        deadline: float | None = None
        while self._status is None:
            if self._requests.count and deadline is None:
                self.stopped_by_user = True
                deadline = time.monotonic() + GRACE_SECONDS
                with contextlib.suppress(ProcessLookupError):
                    self._worker.send_signal(signal.SIGTERM)
            late = deadline is not None and time.monotonic() > deadline
            if self._requests.count > 1 or late:
                self._kill_group()
            self._reap_some()
            time.sleep(0.02)

    def _kill_group(self) -> None:
        assert self._worker is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._worker.pid, signal.SIGKILL)

    def _reap_some(self) -> None:
        """Collect exited children without blocking; note the worker's status."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                if self._status is None:
                    self._status = 1
                return
            if pid == 0:
                return
            self._note(pid, status)

    def _note(self, pid: int, status: int) -> None:
        assert self._worker is not None
        if pid == self._worker.pid:
            self._status = os.waitstatus_to_exitcode(status)
            self._worker.returncode = self._status

    def _reap_all(self, deadline: float) -> None:
        """Wait until no child (worker or orphan) is left, or the deadline passes."""
        while time.monotonic() < deadline:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid:
                self._note(pid, status)
            else:
                time.sleep(0.01)


def _remove(workdir: Path) -> str:
    shutil.rmtree(workdir, ignore_errors=True)
    return f"could not remove all of {workdir}" if workdir.exists() else f"removed {workdir}"


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(raw)
    workdir = Path(tempfile.mkdtemp(prefix="entrasync-demo-"))
    worker = [sys.executable, "-m", "entrasync_devtools.demo_worker", *raw]
    worker += ["--workdir", str(workdir)]
    print(f"entrasync demo: starting in {workdir} (Ctrl-C stops everything)", flush=True)
    with own_foreground_group():
        supervisor = Supervisor(worker)
        code = supervisor.run()
        if supervisor.stopped_by_user:
            where = f"kept {workdir} (--keep)" if args.keep else _remove(workdir)
            print(f"entrasync demo stopped: every process it started has exited; {where}.")
        elif code != 0:
            print(f"entrasync demo failed (exit code {code}); logs in {workdir}", file=sys.stderr)
        elif not args.keep:
            _remove(workdir)
        sys.stdout.flush()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
